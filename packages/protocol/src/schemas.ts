// The schema values in one namespace, so index.ts can name a type after its schema.
export { AgentConfig } from './config.js';
export { ContainerHealth, ContainerState, ContainerStatus } from './container.js';
export { ServiceFigures } from './figures.js';
export { NodeCapacity, NodeReport, NodeRole } from './report.js';
export { HealthCheck, MetricsEndpoint, PortMapping, ServiceSpec } from './service.js';
export { CommandErrorCode, ScaleCommand, ScaleReply } from './command.js';
export { ClusterEvent, ClusterEventType } from './event.js';
