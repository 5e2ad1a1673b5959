export { type CommandAuth, commandAuth, signingKeyPath } from './command-auth.js';
export { NatsCredentialsError } from './errors.js';
export {
  type InboundCounters,
  type SubscribeValidatedOptions,
  subscribeValidated,
} from './inbound.js';
export { NatsLink, type NatsLinkOptions, reconnectDelayMs } from './nats-link.js';
export { type NatsSecurityOptions, natsSecurityOptions } from './nats-security.js';
export { describeTlsCode, probeNatsTls } from './nats-tls-probe.js';
