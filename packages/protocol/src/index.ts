import type { z } from 'zod';
import type * as C from './chaos-experiment.js';
import type * as D from './demo-report.js';
import type * as S from './schemas.js';

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
  ChaosActivity,
  ChaosActivityRun,
  ChaosApiTarget,
  ChaosBlastRadius,
  ChaosExperiment,
  ChaosFault,
  ChaosFaultEventData,
  ChaosJournal,
  ChaosLabTarget,
  ChaosPhaseMeasure,
  ChaosPhaseName,
  ChaosProbe,
  ChaosProbeRun,
  ChaosProbeSla,
  ChaosPromise,
  ChaosPromiseResult,
  ChaosRepetition,
  ChaosRollback,
  ChaosSla,
  ChaosSteadyStateRun,
  ChaosTarget,
  ChaosTimelineMark,
  ChaosTolerance,
  ChaosVerdictEventData,
  ChaosWriteRecord,
} from './chaos-experiment.js';
export {
  API_ERROR_HTTP_STATUS,
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
  DEFAULT_LOCK_LEASE_MS,
  IdempotencyKey,
  LockRecord,
  MANUAL_SEQ_PER_INDEX,
  NodeDeclaredState,
  NodeRecord,
  NodeRegistration,
  Placement,
  ServiceRecord,
  ServiceScaleBody,
  WRITE_KEYS_KEPT,
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
export { CommandErrorCode, MAX_COMMAND_BYTES, ScaleCommand, ScaleReply } from './command.js';
export {
  ByteSize,
  DataRecord,
  DurationMs,
  EpochMs,
  MAX_DATA_DEPTH,
  MAX_DURATION_MS,
  Name,
  NodeId,
  PROTOCOL_VERSION,
  VersionField,
} from './common.js';
export { AgentConfig } from './config.js';
export { ContainerHealth, ContainerState, ContainerStatus, PublishedPort } from './container.js';
export {
  DEFAULT_MAX_PAYLOAD_BYTES,
  DEFAULT_MAX_YAML_BYTES,
  type DecodeOptions,
  type DecodeResult,
  decode,
  decodeYaml,
  encode,
  formatPath,
  issuesOf,
  MAX_YAML_FLOW_DEPTH,
  validate,
} from './decode.js';
export {
  DemoChaosReport,
  DemoPhase,
  DemoReport,
  DemoSeriesPoint,
  DemoServiceReport,
} from './demo-report.js';
export {
  CoxswainError,
  InvalidPayloadError,
  InvalidSubjectTokenError,
  MalformedPayloadError,
  PayloadTooLargeError,
  type SchemaIssue,
} from './errors.js';
export { ClusterEvent, ClusterEventType } from './event.js';
export { ServiceFigures } from './figures.js';
export { MAX_HEARTBEAT_BYTES, NodeHeartbeat } from './heartbeat.js';
export { MAX_REPORT_BYTES, NodeCapacity, NodeReport, NodeRole } from './report.js';
export {
  HealthCheck,
  LABELS,
  MetricsEndpoint,
  PortMapping,
  ScalingPolicyRef,
  ServiceSpec,
} from './service.js';
export { assertSubjectToken, type Subjects, subjects } from './subjects.js';

// Types are inferred from the schemas, never written twice.
export type AgentConfig = z.output<typeof S.AgentConfig>;
export type AgentConfigInput = z.input<typeof S.AgentConfig>;
export type ContainerState = z.output<typeof S.ContainerState>;
export type ContainerStatus = z.output<typeof S.ContainerStatus>;
export type PublishedPort = z.output<typeof S.PublishedPort>;
export type ContainerHealth = z.output<typeof S.ContainerHealth>;
export type ServiceFigures = z.output<typeof S.ServiceFigures>;
export type NodeReport = z.output<typeof S.NodeReport>;
export type NodeHeartbeat = z.output<typeof S.NodeHeartbeat>;
export type NodeRole = z.output<typeof S.NodeRole>;
export type NodeCapacity = z.output<typeof S.NodeCapacity>;
export type ServiceSpec = z.output<typeof S.ServiceSpec>;
export type ServiceSpecInput = z.input<typeof S.ServiceSpec>;
export type HealthCheck = z.output<typeof S.HealthCheck>;
export type MetricsEndpoint = z.output<typeof S.MetricsEndpoint>;
export type PortMapping = z.output<typeof S.PortMapping>;
export type ScaleCommand = z.output<typeof S.ScaleCommand>;
export type CommandSignature = z.output<typeof S.CommandSignature>;
export type ScaleReply = z.output<typeof S.ScaleReply>;
export type AgentOperation = z.output<typeof S.AgentOperation>;
export type AgentOperationsReply = z.output<typeof S.AgentOperationsReply>;
export type CommandErrorCode = z.output<typeof S.CommandErrorCode>;
export type ClusterEvent = z.output<typeof S.ClusterEvent>;
export type ClusterEventType = z.output<typeof S.ClusterEventType>;
export type ApiErrorCode = z.output<typeof S.ApiErrorCode>;
export type ApiReply = z.output<typeof S.ApiReply>;
export type ApiRequest = z.output<typeof S.ApiRequest>;
export type ClusterApplyErrorCode = z.output<typeof S.ClusterApplyErrorCode>;
export type ClusterApplyResult = z.output<typeof S.ClusterApplyResult>;
export type ClusterCommand = z.output<typeof S.ClusterCommand>;
export type ClusterSettings = z.output<typeof S.ClusterSettings>;
export type ClusterStateSnapshot = z.output<typeof S.ClusterStateSnapshot>;
export type CommandAction = z.output<typeof S.CommandAction>;
export type CommandRecord = z.output<typeof S.CommandRecord>;
export type CommandResult = z.output<typeof S.CommandResult>;
export type CommandStatus = z.output<typeof S.CommandStatus>;
export type LockRecord = z.output<typeof S.LockRecord>;
export type NodeDeclaredState = z.output<typeof S.NodeDeclaredState>;
export type NodeRecord = z.output<typeof S.NodeRecord>;
export type NodeRegistration = z.output<typeof S.NodeRegistration>;
export type Placement = z.output<typeof S.Placement>;
export type ServiceRecord = z.output<typeof S.ServiceRecord>;
export type ServiceScaleBody = z.output<typeof S.ServiceScaleBody>;
export type ClusterCommandInput = z.input<typeof S.ClusterCommand>;
export type ApiMeta = z.output<typeof S.ApiMeta>;
export type ApiErrorBody = z.output<typeof S.ApiErrorBody>;
export type ClusterInfo = z.output<typeof S.ClusterInfo>;
export type ClusterMember = z.output<typeof S.ClusterMember>;
export type CommandsReply = z.output<typeof S.CommandsReply>;
export type Endpoint = z.output<typeof S.Endpoint>;
export type EndpointsReply = z.output<typeof S.EndpointsReply>;
export type LocksReply = z.output<typeof S.LocksReply>;
export type LockView = z.output<typeof S.LockView>;
export type NodeLiveness = z.output<typeof S.NodeLiveness>;
export type NodesReply = z.output<typeof S.NodesReply>;
export type NodeView = z.output<typeof S.NodeView>;
export type RaftRole = z.output<typeof S.RaftRole>;
export type ServiceDetail = z.output<typeof S.ServiceDetail>;
export type ServicesReply = z.output<typeof S.ServicesReply>;
export type ServiceSummary = z.output<typeof S.ServiceSummary>;
export type WriteReply = z.output<typeof S.WriteReply>;
export type WriteStatusReply = z.output<typeof S.WriteStatusReply>;
export type AppliedWrite = z.output<typeof S.AppliedWrite>;
export type BindingRule = z.output<typeof S.BindingRule>;
export type ChaosFaultData = z.output<typeof S.ChaosFaultData>;
export type ChaosVerdictData = z.output<typeof S.ChaosVerdictData>;
export type ClusterHealth = z.output<typeof S.ClusterHealth>;
export type DecisionBinding = z.output<typeof S.DecisionBinding>;
export type DecisionForecast = z.output<typeof S.DecisionForecast>;
export type DecisionInputs = z.output<typeof S.DecisionInputs>;
export type DecisionOutcome = z.output<typeof S.DecisionOutcome>;
export type DecisionRecord = z.output<typeof S.DecisionRecord>;
export type DecisionsReply = z.output<typeof S.DecisionsReply>;
export type ForecastInterval = z.output<typeof S.ForecastInterval>;
export type NatsConnection = z.output<typeof S.NatsConnection>;
export type VoterHealth = z.output<typeof S.VoterHealth>;

// The lab demo's report (demo-report.ts).
export type DemoReport = z.output<typeof D.DemoReport>;
export type DemoServiceReport = z.output<typeof D.DemoServiceReport>;
export type DemoChaosReport = z.output<typeof D.DemoChaosReport>;
export type DemoSeriesPoint = z.output<typeof D.DemoSeriesPoint>;

// Chaos experiments and journals (chaos-experiment.ts).
export type ChaosActivity = z.output<typeof C.ChaosActivity>;
export type ChaosActivityRun = z.output<typeof C.ChaosActivityRun>;
export type ChaosApiTarget = z.output<typeof C.ChaosApiTarget>;
export type ChaosBlastRadius = z.output<typeof C.ChaosBlastRadius>;
export type ChaosExperiment = z.output<typeof C.ChaosExperiment>;
export type ChaosFault = z.output<typeof C.ChaosFault>;
export type ChaosFaultEventData = z.output<typeof C.ChaosFaultEventData>;
export type ChaosJournal = z.output<typeof C.ChaosJournal>;
export type ChaosLabTarget = z.output<typeof C.ChaosLabTarget>;
export type ChaosPhaseMeasure = z.output<typeof C.ChaosPhaseMeasure>;
export type ChaosPhaseName = z.output<typeof C.ChaosPhaseName>;
export type ChaosProbe = z.output<typeof C.ChaosProbe>;
export type ChaosProbeRun = z.output<typeof C.ChaosProbeRun>;
export type ChaosProbeSla = z.output<typeof C.ChaosProbeSla>;
export type ChaosPromise = z.output<typeof C.ChaosPromise>;
export type ChaosPromiseResult = z.output<typeof C.ChaosPromiseResult>;
export type ChaosRepetition = z.output<typeof C.ChaosRepetition>;
export type ChaosRollback = z.output<typeof C.ChaosRollback>;
export type ChaosSla = z.output<typeof C.ChaosSla>;
export type ChaosSteadyStateRun = z.output<typeof C.ChaosSteadyStateRun>;
export type ChaosTarget = z.output<typeof C.ChaosTarget>;
export type ChaosTimelineMark = z.output<typeof C.ChaosTimelineMark>;
export type ChaosTolerance = z.output<typeof C.ChaosTolerance>;
export type ChaosVerdictEventData = z.output<typeof C.ChaosVerdictEventData>;
export type ChaosWriteRecord = z.output<typeof C.ChaosWriteRecord>;
export type ChaosExperimentInput = z.input<typeof C.ChaosExperiment>;
export {
  CommandSignatureError,
  type CommandSignatureErrorCode,
  canonicalJson,
  commandSigningBytes,
  generateSigningKeyPair,
  type KeyResult,
  loadVoterKeys,
  privateKeyFromPem,
  privateKeyToPem,
  publicKeyFromText,
  publicKeyToBase64,
  type SigningContext,
  type SigningKey,
  signCommand,
  type VerifyResult,
  type VoterKeys,
  verifyCommand,
} from './command-signature.js';
export {
  agentPermissions,
  type InboxMode,
  inboxPrefixFor,
  type NatsClusterNode,
  type NatsConfigInput,
  type NatsCredential,
  type NatsTlsFiles,
  natsServerConfig,
  observerPermissions,
  operatorPermissions,
  type SubjectPermissions,
} from './nats-permissions.js';
