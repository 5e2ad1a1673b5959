/**
 * Tolerances (Chaos Toolkit's idea): what a probe's value must be for the
 * steady state to hold. Pure.
 */
import type { ChaosTolerance } from '@coxswain/protocol';

/** `a.b[0].c` into a value; undefined when any step is missing. */
export function valueAtPath(value: unknown, path: string): unknown {
  const steps = path
    .replace(/^\$\.?/, '')
    .split(/\.|\[(\d+)\]/)
    .filter((s) => s !== undefined && s !== '');
  let at: unknown = value;
  for (const step of steps) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[step];
  }
  return at;
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function checkOne(
  value: unknown,
  t: { equals?: unknown; range?: readonly [number, number]; regex?: string },
): { met: boolean; why: string } {
  if (t.range) {
    const [lo, hi] = t.range;
    const ok = typeof value === 'number' && value >= lo && value <= hi;
    return { met: ok, why: `${JSON.stringify(value)} ${ok ? 'in' : 'not in'} [${lo}, ${hi}]` };
  }
  if (t.regex !== undefined) {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    const ok = new RegExp(t.regex).test(text ?? '');
    return { met: ok, why: `${ok ? 'matches' : 'does not match'} /${t.regex}/` };
  }
  if ('equals' in t) {
    const ok = deepEqual(value, t.equals);
    return {
      met: ok,
      why: `${JSON.stringify(value)} ${ok ? '=' : '≠'} ${JSON.stringify(t.equals)}`,
    };
  }
  return { met: value !== undefined, why: value === undefined ? 'no value' : 'present' };
}

/** Whether `value` meets the tolerance, and a short why for the journal. */
export function meetsTolerance(
  value: unknown,
  tolerance: ChaosTolerance,
): { met: boolean; why: string } {
  if (typeof tolerance === 'boolean' || typeof tolerance === 'number')
    return checkOne(value, { equals: tolerance });
  if ('jsonPath' in tolerance) {
    const at = valueAtPath(value, tolerance.jsonPath);
    const r = checkOne(at, tolerance);
    return { met: r.met, why: `${tolerance.jsonPath}: ${r.why}` };
  }
  return checkOne(value, tolerance);
}
