export { type BlastState, blastRadiusRefusal } from './blast-radius.js';
export { ClientClusterApi, type ClusterApi, ClusterApiError } from './cluster-api.js';
export { formatMs, percentile } from './duration.js';
export {
  BlastRadiusError,
  ChaosAbortedError,
  ChaosTargetError,
  ExperimentFileError,
  type ExperimentProblem,
} from './errors.js';
export { EventWatcher, type HeardEvent } from './events.js';
export { FAULT_CATALOGUE, type Injected, takesDown } from './faults.js';
export { renderJunit } from './junit.js';
export { prepareServices, specPath, startLabFor } from './lab-target.js';
export { type LoadedExperiment, loadExperiment, parseExperiment } from './load.js';
export { type Mark, type Observed, phasesOf, verdictOf } from './phases.js';
export {
  type Capabilities,
  capabilitiesOf,
  preflight,
  preflightRefusals,
  probeNetem,
  type Refusal,
} from './preflight.js';
export {
  agentFencingViolations,
  fencingOverlaps,
  lateExecutions,
  PROBE_CATALOGUE,
  type ProbeOutcome,
  runProbe,
} from './probes.js';
export {
  type ApiRunningSample,
  apiRunningVerdict,
  type DesiredSample,
  type EngineSample,
  type LastWriteInput,
  lastWriteVerdict,
  maxBoundVerdict,
  type PromiseVerdict,
} from './promise-checks.js';
export { pick, seededRandom } from './random.js';
export { renderReport } from './report.js';
export { CHAOS_VERSION, exitCodeOf, type RunOptions, runExperiment, summaryOf } from './runner.js';
export { steadyMisses } from './steady.js';
export {
  apiEnv,
  type ChaosEnv,
  type ChaosHost,
  dockerAt,
  labEnv,
  type NatsClientOptions,
} from './target.js';
export { meetsTolerance, valueAtPath } from './tolerance.js';
export { outcomeOf } from './writes.js';
