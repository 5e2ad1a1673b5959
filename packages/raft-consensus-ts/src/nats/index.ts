export type { DropReason, TransportStats } from '../transport/framing.js';
export type { NatsTransportOptions } from './nats-transport.js';
export { NatsTransport } from './nats-transport.js';
