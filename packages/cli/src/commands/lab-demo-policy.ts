/**
 * `coxswain lab --policy NAME`: which scaling policy the demo's services run under. The demo's
 * specs (deploy/lab/samples/demo/*.yaml) ship the predictive policy with its settings for a
 * time-compressed trace; another policy keeps its own shipped defaults except the windows that
 * hold a scale-down back, which take the spec's own values. Those defaults are Kubernetes'
 * wall-clock windows (the HPA's 300 s scale-down stabilization): replayed 576× faster, 300 s is
 * 48 h of the trace, longer than the whole run, so a policy left with it could never scale down
 * and the comparison would be of a window the run is shorter than, not of the decision rule.
 */
import {
  DEFAULT_POLICY,
  isPolicyName,
  POLICY_NAMES,
  type PolicyName,
  PredictiveParams,
} from '@coxswain/forecast';
import type { ServiceSpec } from '@coxswain/protocol';
import { UsageError } from '../errors.js';

export const DEMO_POLICIES: readonly PolicyName[] = POLICY_NAMES;

/** The --policy flag's value, checked: one of the forecast package's policies. */
export function parseDemoPolicy(text: string | undefined): PolicyName {
  if (text === undefined) return DEFAULT_POLICY;
  if (!isPolicyName(text))
    throw new UsageError(
      `--policy must be one of ${DEMO_POLICIES.join(', ')}, not ${JSON.stringify(text)}`,
    );
  return text;
}

/** A number the spec's own (predictive) params set, else `fallback`. */
function specNumber(spec: ServiceSpec, key: string, fallback: number): number {
  const v = spec.policy.params[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

/** The spec's policy reference under `policy` (name and params), by the rule in the file's comment. */
export function demoPolicyRef(spec: ServiceSpec, policy: PolicyName): ServiceSpec['policy'] {
  // The demo specs' own values; the fallbacks are the predictive policy's shipped defaults.
  const holdSeconds = specNumber(
    spec,
    'scaleDownStabilizationSeconds',
    PredictiveParams.parse({}).scaleDownStabilizationSeconds,
  );
  const cooldownSeconds = specNumber(spec, 'scaleDownCooldownSeconds', 0);
  switch (policy) {
    case 'predictive':
      return spec.policy.name === 'predictive' ? spec.policy : { name: 'predictive', params: {} };
    case 'learned':
      // The learned policy extends the predictive params: it gets the same ones.
      return {
        name: 'learned',
        params: spec.policy.name === 'predictive' ? spec.policy.params : {},
      };
    case 'hpa':
      return {
        name: 'hpa',
        params: {
          scaleDown: {
            stabilizationWindowSeconds: Math.round(holdSeconds),
            selectPolicy: 'max',
            // Kubernetes' default scale-down rule, unchanged.
            policies: [{ type: 'percent', value: 100, periodSeconds: 15 }],
          },
        },
      };
    case 'threshold':
    case 'score':
      return { name: policy, params: { cooldownSeconds } };
  }
}
