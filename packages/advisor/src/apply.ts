import type { Advice } from './advisor.js';

/** A suggestion field the policy accepts: which parameter it sets and the policy's own bounds for it. */
export interface AdviceClamp {
  readonly param: string;
  readonly min: number;
  readonly max: number;
}

export type AdviceKey = Exclude<keyof Advice, 'rationale'>;

/** Clamps per policy, from their parameter schemas and the service's replica bounds. */
export function policyClamps(
  policy: string,
  replicas: { readonly min: number; readonly max: number },
): Partial<Record<AdviceKey, AdviceClamp>> {
  const minReplicas = { param: 'minReplicas', min: replicas.min, max: replicas.max };
  switch (policy) {
    case 'predictive':
    case 'learned':
      return {
        targetUtilization: { param: 'targetUtilization', min: 0.5, max: 0.95 },
        minReplicas,
      };
    case 'threshold':
      return {
        scaleUpAbovePercent: { param: 'scaleUpAbovePercent', min: 50, max: 95 },
        scaleDownBelowPercent: { param: 'scaleDownBelowPercent', min: 10, max: 60 },
        minReplicas,
      };
    default:
      return { minReplicas };
  }
}

export interface AppliedAdvice {
  /** The parameters to use: changed only when `apply` is true. */
  readonly params: Readonly<Record<string, unknown>>;
  /** One line per suggestion: applied, clamped, not applicable to this policy, or shown only. */
  readonly notes: readonly string[];
}

/**
 * Applies advice to a policy's parameters, only with `apply` and only within
 * the clamps: a value outside them is moved to the nearest bound and noted; a
 * field the policy has no clamp for is ignored and noted. Pure.
 */
export function applyAdvice(
  params: Readonly<Record<string, unknown>>,
  advice: Advice,
  clamps: Partial<Record<AdviceKey, AdviceClamp>>,
  apply: boolean,
): AppliedAdvice {
  const out: Record<string, unknown> = { ...params };
  const notes: string[] = [];
  for (const key of [
    'targetUtilization',
    'scaleUpAbovePercent',
    'scaleDownBelowPercent',
    'minReplicas',
  ] as const) {
    const value = advice[key];
    if (value === undefined) continue;
    const clamp = clamps[key];
    if (!clamp) {
      notes.push(`${key} ${value}: not a setting of this policy, ignored`);
      continue;
    }
    const bounded = Math.min(clamp.max, Math.max(clamp.min, value));
    const clampedNote =
      bounded !== value ? ` (clamped from ${value} to [${clamp.min}, ${clamp.max}])` : '';
    if (!apply) {
      notes.push(`${clamp.param} ${bounded}${clampedNote}: advice only (advisor.apply is false)`);
      continue;
    }
    out[clamp.param] = bounded;
    notes.push(
      `${clamp.param} ${String(params[clamp.param] ?? 'default')} → ${bounded}${clampedNote}`,
    );
  }
  // Keep a threshold pair ordered: scale-down must stay below scale-up.
  const up = out.scaleUpAbovePercent;
  const down = out.scaleDownBelowPercent;
  if (apply && typeof up === 'number' && typeof down === 'number' && down >= up) {
    out.scaleUpAbovePercent = params.scaleUpAbovePercent;
    out.scaleDownBelowPercent = params.scaleDownBelowPercent;
    notes.push(`scale-down ${down} % not below scale-up ${up} %: both left as they were`);
  }
  return { params: out, notes };
}
