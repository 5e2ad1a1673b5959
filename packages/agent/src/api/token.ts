/**
 * The one API token check, for the HTTP routes and for the leader's handling
 * of requests forwarded over NATS.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Compares digests, not the strings: equal lengths whatever was sent, so
 * neither the comparison nor a length check tells an attacker how close a
 * guess was. A missing token on either side never matches.
 */
export function tokenMatches(given: string | undefined, expected: string | undefined): boolean {
  if (given === undefined || expected === undefined) return false;
  return timingSafeEqual(sha256(given), sha256(expected));
}
