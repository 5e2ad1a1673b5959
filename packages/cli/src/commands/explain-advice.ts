/**
 * The LLM advisor in `coxswain explain SERVICE --config FILE`: the file's
 * `advisor:` section (@coxswain/advisor's AdvisorConfig; off unless enabled)
 * says which chat-completions endpoint to ask. The advisor is shown the
 * service's policy, parameters and the figures of its recent decisions; its
 * zod-validated advice is printed, and applied (a new spec version through the
 * API) only with `advisor.apply: true`, within the policy's own clamps.
 */
import { readFile } from 'node:fs/promises';
import {
  type Advice,
  Advisor,
  type AdvisorConfig,
  AdvisorConfigFile,
  type AdvisorDeps,
  type AdvisorFigures,
  applyAdvice,
  policyClamps,
} from '@coxswain/advisor';
import { type DecisionRecord, decodeYaml, type ServiceDetail } from '@coxswain/protocol';
import { UsageError } from '../errors.js';

/** The `advisor:` section of a YAML or JSON file, validated; undefined when the file has none. */
export async function loadAdvisorConfig(path: string): Promise<AdvisorConfig | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${(error as Error).message}`);
  }
  const parsed = decodeYaml(AdvisorConfigFile, text, { where: path });
  if (!parsed.ok) throw new UsageError(parsed.error.message);
  return parsed.value.advisor;
}

/** What the advisor is shown: the service's policy and the figures its recent decisions saw, oldest first. */
export function advisorFigures(
  detail: ServiceDetail,
  decisions: readonly DecisionRecord[],
): AdvisorFigures {
  const spec = detail.record.spec;
  const recent = [...decisions]
    .sort((a, b) => a.atEpochMs - b.atEpochMs)
    .slice(-50)
    .map((d) => ({
      time: d.atEpochMs,
      replicas: d.inputs.replicas,
      ...(d.inputs.requestRatePerSecond === undefined
        ? {}
        : { requestRatePerSecond: d.inputs.requestRatePerSecond }),
      ...(d.inputs.cpuPercent === undefined ? {} : { cpuPercent: d.inputs.cpuPercent }),
      ...(d.inputs.p95LatencyMs === undefined ? {} : { p95LatencyMs: d.inputs.p95LatencyMs }),
    }));
  const withP95 = recent.filter((r) => r.p95LatencyMs !== undefined);
  const over =
    spec.sloP95Ms !== undefined && withP95.length > 0
      ? withP95.filter((r) => r.p95LatencyMs! > spec.sloP95Ms!).length / withP95.length
      : undefined;
  return {
    service: detail.name,
    policy: spec.policy.name,
    params: spec.policy.params,
    ...(spec.sloP95Ms === undefined ? {} : { sloP95Ms: spec.sloP95Ms }),
    recent,
    ...(over === undefined ? {} : { overSloFraction: over }),
  };
}

export interface AdviceOutcome {
  readonly lines: readonly string[];
  readonly advice?: Advice;
  /** The spec to apply: only with `advisor.apply: true` and a changed setting. */
  readonly spec?: ServiceDetail['record']['spec'];
}

/**
 * Asks the advisor about one service and says what it answered. Never throws:
 * a failed exchange (slow, malformed, refused…) is one line with its code.
 */
export async function adviseOn(
  config: AdvisorConfig,
  detail: ServiceDetail,
  decisions: readonly DecisionRecord[],
  deps: AdvisorDeps = {},
): Promise<AdviceOutcome> {
  const spec = detail.record.spec;
  const head = `Advisor (${config.model}):`;
  const result = await new Advisor(config, deps).ask(advisorFigures(detail, decisions));
  if (!result.ok)
    return { lines: [`${head} no advice — ${result.error.code}: ${result.error.message}`] };
  const advice = result.advice;
  // minReplicas is a spec field, not a policy parameter: clamped with the others, set on the spec.
  const current = { ...spec.policy.params, minReplicas: spec.minReplicas };
  const applied = applyAdvice(
    current,
    advice,
    policyClamps(spec.policy.name, { min: spec.minReplicas, max: spec.maxReplicas }),
    config.apply,
  );
  const lines = [`${head} ${advice.rationale}`, ...applied.notes.map((n) => `  ${n}`)];
  if (!config.apply) return { lines, advice };
  const { minReplicas, ...params } = applied.params;
  const next = {
    ...spec,
    minReplicas: typeof minReplicas === 'number' ? minReplicas : spec.minReplicas,
    policy: { ...spec.policy, params },
  };
  if (JSON.stringify(next) === JSON.stringify(spec))
    return { lines: [...lines, '  nothing to change'], advice };
  return { lines, advice, spec: next };
}
