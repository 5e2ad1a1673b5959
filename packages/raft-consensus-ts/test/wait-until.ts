/** Polls `fn` until it returns a value (not undefined or false); fails naming `what` after `timeoutMs`. */
export async function until<T>(
  what: string,
  fn: () => T | undefined | false,
  timeoutMs = 5000,
  pollMs = 5,
): Promise<T> {
  const start = performance.now();
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
