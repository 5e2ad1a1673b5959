/**
 * The public cluster state API of the agent that served the page: plain
 * fetch, same origin, read-only. Every reply goes through a tolerant reader
 * (schemas.ts); a failure is an `ApiFailure` naming the route.
 */
import type { z } from 'zod';

export class ApiFailure extends Error {
  override readonly name = 'ApiFailure';
  constructor(
    readonly route: string,
    readonly status: number | undefined,
    message: string,
  ) {
    super(`${route}: ${message}`);
  }
}

const TIMEOUT_MS = 4000;

export async function getJson(route: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(route, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    throw new ApiFailure(route, undefined, (error as Error).message || 'unreachable');
  }
  if (!res.ok) {
    let code = `HTTP ${res.status}`;
    try {
      const body = (await res.json()) as { error?: { code?: string; message?: string } };
      if (body.error?.code) code = `${body.error.code}: ${body.error.message ?? ''}`;
    } catch {
      // not JSON: the status says enough
    }
    throw new ApiFailure(route, res.status, code);
  }
  try {
    return await res.json();
  } catch {
    throw new ApiFailure(route, res.status, 'the reply is not JSON');
  }
}

/** GET and read with `reader` (a tolerant schema's parse or a read function). */
export async function get<T>(route: string, reader: (v: unknown) => T): Promise<T> {
  const value = await getJson(route);
  try {
    return reader(value);
  } catch (error) {
    const issue = (error as z.ZodError).issues?.[0];
    throw new ApiFailure(
      route,
      200,
      issue
        ? `unexpected reply at ${issue.path.join('.') || '(root)'}: ${issue.message}`
        : String(error),
    );
  }
}

/** 404 means the route does not exist on this agent (yet): undefined, not an error. */
export async function getOptional<T>(
  route: string,
  reader: (v: unknown) => T,
): Promise<T | undefined> {
  try {
    return await get(route, reader);
  } catch (error) {
    if (error instanceof ApiFailure && (error.status === 404 || error.status === 405))
      return undefined;
    throw error;
  }
}
