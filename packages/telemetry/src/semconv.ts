// Attribute names. OTel advises copying incubating semantic-convention names
// rather than importing `@opentelemetry/semantic-conventions/incubating`, whose
// exports may change between minor versions; the stable ones are re-exported.
export {
  ATTR_EXCEPTION_MESSAGE,
  ATTR_EXCEPTION_TYPE,
  ATTR_SERVICE_NAME,
} from '@opentelemetry/semantic-conventions';

export const ATTR_SERVICE_INSTANCE_ID = 'service.instance.id';
export const ATTR_HOST_NAME = 'host.name';

export const ATTR_MESSAGING_SYSTEM = 'messaging.system';
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
export const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name';
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
export const ATTR_MESSAGING_MESSAGE_BODY_SIZE = 'messaging.message.body.size';
export const MESSAGING_SYSTEM_NATS = 'nats';

/** Our own resource attributes, namespaced as OTel asks for vendor keys. */
export const ATTR_COXSWAIN_CLUSTER = 'coxswain.cluster';
export const ATTR_COXSWAIN_NODE = 'coxswain.node';
