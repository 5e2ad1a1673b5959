export { FencingStore, FencingStoreInUseError } from '@coxswain/host';
export { NatsCredentialsError, natsSecurityOptions } from '@coxswain/nats-link';
export { Agent, type AgentStartOptions, type PeerReport, withPredictedRates } from './agent.js';
// The cluster state API (issue 4): routes, the view they read, events, OpenAPI. The client is @coxswain/client.
export { ApiError, UnauthorizedError } from './api/api-errors.js';
export {
  type ClusterApi,
  type ClusterApiOptions,
  type RejectionCounter,
  registerClusterApi,
  runningByService,
} from './api/cluster-api.js';
export {
  apiBaseUrl,
  ClusterMemberView,
  type ClusterMemberViewOptions,
} from './api/cluster-member-view.js';
export {
  type ApiWrite,
  type ClusterView,
  NoLeaderError,
  type RaftMemberView,
  type RaftStatusView,
  type ReportView,
} from './api/cluster-view.js';
export {
  type MountClusterApiOptions,
  type MountedClusterApi,
  mountClusterApi,
} from './api/mount-cluster-api.js';
export { sseFrame } from './api/sse.js';
export { tokenMatches } from './api/token.js';
// Cluster membership and coordination (issue 4); the executor and supervisor are @coxswain/host's.
export {
  ClusterMember,
  type ClusterMemberOptions,
  type LocalMemberOptions,
} from './cluster/cluster-member.js';
export { CommandSender, type CommandSenderOptions } from './cluster/command-sender.js';
export { Coordinator, type CoordinatorOptions } from './cluster/coordinator.js';
export { bindingOf, DecisionLog, decisionRecordOf } from './cluster/decision-log.js';
export {
  DECISION_SPANS,
  decisionAttributes,
  ElectionSpans,
  ReportContexts,
  traceCommand,
  tracePlan,
  traceProposal,
  withReportContext,
} from './cluster/decision-tracing.js';
export { ReportIntake, type ReportIntakeOptions } from './cluster/report-intake.js';
export { raftHealth } from './cluster-metrics.js';
export {
  type ConfigOverrides,
  convertValue,
  ENV_VARS,
  type LoadConfigInput,
  loadAgentConfig,
  mergeAndValidate,
  overridesFromEnv,
} from './config-loader.js';
export { AgentConfigError } from './errors.js';
export {
  attachEventBusToNats,
  EventBus,
  type EventBusOptions,
  type EventInput,
  type EventListener,
  type RecentOptions,
  type StoredEvent,
} from './events.js';
export { Heartbeat } from './heartbeat.js';
export {
  errorResponse,
  HttpError,
  type HttpMethod,
  type HttpResponse,
  HttpServer,
  type InjectResult,
  json,
  type RequestContext,
  type RouteHandler,
  Router,
  text,
} from './http-server.js';
export { type PublishOutcome, Reporter } from './reporter.js';
