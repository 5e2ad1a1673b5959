import { z } from 'zod';

/** Wire format version carried by every message, so a mixed-version cluster can refuse cleanly. */
export const PROTOCOL_VERSION = 1 as const;
export const VersionField = z.literal(PROTOCOL_VERSION);

/** Names that become NATS subject tokens or Docker labels: no dots, wildcards or spaces. */
export const Name = z
  .string()
  .min(1)
  .max(63)
  .regex(
    /^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$/,
    'lowercase letters, digits, "-" and "_", starting and ending alphanumeric',
  );

export const NodeId = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, "-" and "_"');

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * The longest duration a Node timer holds (2^31 - 1 ms, 24.8 days). Every
 * duration here ends up in a timer or a timeout; a longer one would fire after
 * 1 ms (Node clamps it), turning "once a month" into a busy loop.
 */
export const MAX_DURATION_MS = 2_147_483_647;

const DurationNumber = z
  .number()
  .nonnegative()
  .max(MAX_DURATION_MS, `at most ${MAX_DURATION_MS} ms (24.8 days)`);

/** A duration in milliseconds, written as a number of ms or as "250ms", "1s", "1.5m", "2h". */
export const DurationMs = z.union([
  DurationNumber,
  z
    .string()
    .regex(/^\d+(\.\d+)?(ms|s|m|h)$/, 'a duration such as "500ms", "1s", "2m"')
    .transform((text) => {
      const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text)!;
      return Number(match[1]) * UNIT_MS[match[2]!]!;
    })
    // "999…9h" with enough digits is Infinity: checked after the conversion, like a number.
    .pipe(DurationNumber),
]);

/** Bytes, written as a number or "256m", "1g", "512k" (binary units, as Docker does). */
export const ByteSize = z.union([
  z.number().int().nonnegative(),
  z
    .string()
    .regex(/^\d+(\.\d+)?[kmg]i?b?$/i, 'a size such as "256m" or "1g"')
    .transform((text) => {
      const match = /^(\d+(?:\.\d+)?)([kmg])/i.exec(text)!;
      const power = { k: 1, m: 2, g: 3 }[match[2]!.toLowerCase() as 'k' | 'm' | 'g'];
      return Math.round(Number(match[1]) * 1024 ** power);
    })
    // "999…9g" with enough digits is Infinity or past 2^53: refused like a non-integer number.
    .pipe(z.number().int().nonnegative()),
]);

/** Wall-clock milliseconds since the epoch: for reports and logs only, never for timeouts. */
export const EpochMs = z.number().int().nonnegative();

/** Free-form data (event details, policy parameters) nests at most this deep. */
export const MAX_DATA_DEPTH = 32;

/** True when `value` nests objects or arrays deeper than `limit`; iterative, so depth itself cannot overflow the stack. */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= limit) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * A record of arbitrary JSON values with bounded nesting. Unbounded, one
 * message 100,000 levels deep was accepted and then crashed the first
 * JSON.stringify that met it (the event stream, a Raft snapshot).
 */
export const DataRecord = z
  .record(z.string(), z.unknown())
  .refine((v) => !nestsDeeperThan(v, MAX_DATA_DEPTH), {
    message: `nested deeper than ${MAX_DATA_DEPTH} levels`,
  });
