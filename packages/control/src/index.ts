export {
  type AppliedEntry,
  ClusterState,
  DEFAULT_SETTINGS,
  encodeClusterCommand,
  lockBlocks,
  lockExpired,
  START_DURATIONS_KEPT,
} from './cluster-state.js';
export {
  type CommandTarget,
  countActive,
  type DecideInput,
  type Decision,
  decide,
  type ObservedNode,
  type Operation,
  planService,
  sampleServices,
} from './decide.js';
export { CommandUndeliveredError, ServiceVanishedError, UnknownPolicyError } from './errors.js';
export { FigureHistory, type FigureHistoryOptions, type ReportAge } from './figure-history.js';
export {
  ForecastPolicies,
  type ForecastPoliciesOptions,
  type PolicyFailure,
  type ServiceDecisionRecord,
  type ServiceLookup,
} from './forecast-policies.js';
export {
  deadAtMs,
  isHeard,
  lastHeardMs,
  nextDeathAtMs,
  REPORT_STALE_AFTER_MS,
  reportStaleAfterMs,
  withHeartbeat,
} from './liveness.js';
export {
  type Committed,
  type LockedOperationOptions,
  type LockedOutcome,
  type LockProtocolDeps,
  LogicalClock,
  runLockedOperation,
} from './lock-protocol.js';
export { freshNodes, ServiceHistory } from './node-liveness.js';
export { type PlacementNode, type PlacementResult, place } from './placement.js';
export {
  DEFAULT_POLICIES,
  type PolicyInput,
  type PolicyOutcome,
  type RegisteredPolicy,
  type ServiceSample,
  targetTrackingPolicy,
  toObservation,
} from './policy-registry.js';
export {
  type HeardReport,
  type ReportConsumer,
  ReportHub,
  type ReportHubOptions,
} from './report-hub.js';
export { WriteKeys } from './write-keys.js';
