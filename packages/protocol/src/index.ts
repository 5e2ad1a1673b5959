import type { z } from 'zod';
import type * as S from './schemas.js';

export {
  ByteSize,
  DurationMs,
  EpochMs,
  Name,
  NodeId,
  PROTOCOL_VERSION,
  VersionField,
} from './common.js';
export { AgentConfig } from './config.js';
export { ContainerHealth, ContainerState, ContainerStatus } from './container.js';
export { ServiceFigures } from './figures.js';
export { MAX_REPORT_BYTES, NodeCapacity, NodeReport, NodeRole } from './report.js';
export {
  HealthCheck,
  LABELS,
  MetricsEndpoint,
  PortMapping,
  ScalingPolicyRef,
  ServiceSpec,
} from './service.js';
export { CommandErrorCode, MAX_COMMAND_BYTES, ScaleCommand, ScaleReply } from './command.js';
export { ClusterEvent, ClusterEventType } from './event.js';
export { assertSubjectToken, subjects, type Subjects } from './subjects.js';
export {
  DEFAULT_MAX_PAYLOAD_BYTES,
  decode,
  decodeYaml,
  encode,
  formatPath,
  issuesOf,
  validate,
  type DecodeOptions,
  type DecodeResult,
} from './decode.js';
export {
  CoxswainError,
  InvalidPayloadError,
  InvalidSubjectTokenError,
  MalformedPayloadError,
  PayloadTooLargeError,
  type SchemaIssue,
} from './errors.js';

// Types are inferred from the schemas, never written twice.
export type AgentConfig = z.output<typeof S.AgentConfig>;
export type AgentConfigInput = z.input<typeof S.AgentConfig>;
export type ContainerState = z.output<typeof S.ContainerState>;
export type ContainerStatus = z.output<typeof S.ContainerStatus>;
export type ContainerHealth = z.output<typeof S.ContainerHealth>;
export type ServiceFigures = z.output<typeof S.ServiceFigures>;
export type NodeReport = z.output<typeof S.NodeReport>;
export type NodeRole = z.output<typeof S.NodeRole>;
export type NodeCapacity = z.output<typeof S.NodeCapacity>;
export type ServiceSpec = z.output<typeof S.ServiceSpec>;
export type ServiceSpecInput = z.input<typeof S.ServiceSpec>;
export type HealthCheck = z.output<typeof S.HealthCheck>;
export type MetricsEndpoint = z.output<typeof S.MetricsEndpoint>;
export type PortMapping = z.output<typeof S.PortMapping>;
export type ScaleCommand = z.output<typeof S.ScaleCommand>;
export type ScaleReply = z.output<typeof S.ScaleReply>;
export type CommandErrorCode = z.output<typeof S.CommandErrorCode>;
export type ClusterEvent = z.output<typeof S.ClusterEvent>;
export type ClusterEventType = z.output<typeof S.ClusterEventType>;
