// The schema values in one namespace, so index.ts can name a type after its schema.

export { AgentOperation, AgentOperationsReply } from './agent-operations.js';
export {
  ApiErrorBody,
  ApiIssue,
  ApiMeta,
  ClusterInfo,
  ClusterMember,
  CommandsQuery,
  CommandsReply,
  Endpoint,
  EndpointsQuery,
  EndpointsReply,
  EventsQuery,
  EventTypeList,
  LocksReply,
  LockView,
  NodeLiveness,
  NodesReply,
  NodeView,
  RaftRole,
  ReadQuery,
  ServiceDetail,
  ServiceQuery,
  ServiceSummary,
  ServicesReply,
  WriteReply,
  WriteStatusReply,
} from './api.js';
export {
  ApiErrorCode,
  ApiReply,
  ApiRequest,
  AppliedWrite,
  ClusterApplyErrorCode,
  ClusterApplyResult,
  ClusterCommand,
  ClusterSettings,
  ClusterStateSnapshot,
  CommandAction,
  CommandRecord,
  CommandResult,
  CommandStatus,
  LockRecord,
  NodeDeclaredState,
  NodeRecord,
  NodeRegistration,
  Placement,
  ServiceRecord,
  ServiceScaleBody,
} from './cluster.js';
export {
  BindingRule,
  ChaosFaultData,
  ChaosVerdictData,
  ClusterHealth,
  DecisionBinding,
  DecisionForecast,
  DecisionInputs,
  DecisionOutcome,
  DecisionRecord,
  DecisionsReply,
  ForecastInterval,
  NatsConnection,
  VoterHealth,
} from './cluster-health.js';
export { CommandErrorCode, CommandSignature, ScaleCommand, ScaleReply } from './command.js';
export { AgentConfig } from './config.js';
export { ContainerHealth, ContainerState, ContainerStatus, PublishedPort } from './container.js';
export { ClusterEvent, ClusterEventType } from './event.js';
export { ServiceFigures } from './figures.js';
export { NodeHeartbeat } from './heartbeat.js';
export { NodeCapacity, NodeReport, NodeRole } from './report.js';
export { HealthCheck, MetricsEndpoint, PortMapping, ServiceSpec } from './service.js';
