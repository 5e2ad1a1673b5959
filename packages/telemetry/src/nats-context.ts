import {
  type Attributes,
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import {
  headers,
  Match,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type PublishOptions,
  type RequestOptions,
} from 'nats';
import {
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_BODY_SIZE,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  MESSAGING_SYSTEM_NATS,
} from './semconv.js';
import { recordFailure } from './with-span.js';

const TRACER_NAME = '@coxswain/telemetry/nats';

const setter: TextMapSetter<MsgHdrs> = {
  set(carrier, key, value) {
    carrier.set(key, value);
  },
};

// Header names are case-insensitive to other NATS clients (Go's canonicalises
// them to `Traceparent`); match either spelling.
const getter: TextMapGetter<MsgHdrs | undefined> = {
  keys(carrier) {
    return carrier?.keys() ?? [];
  },
  get(carrier, key) {
    if (carrier === undefined || !carrier.has(key, Match.IgnoreCase)) return undefined;
    return carrier.get(key, Match.IgnoreCase);
  },
};

/** Looked up per call: after a telemetry restart the global provider is a new one. */
function tracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

/** Writes `traceparent`/`tracestate` for `ctx` into NATS headers, through the global propagator. */
export function injectTraceContext(h: MsgHdrs, ctx: Context = context.active()): MsgHdrs {
  propagation.inject(ctx, h, setter);
  return h;
}

/** New NATS headers carrying the trace context of `ctx` (the active context by default). */
export function natsHeaders(ctx: Context = context.active()): MsgHdrs {
  return injectTraceContext(headers(), ctx);
}

/**
 * Headers carrying the trace context of `ctx`, or undefined when it has no span
 * (no telemetry, or outside any span): an untraced publish then sends no header block.
 */
export function traceHeaders(ctx: Context = context.active()): MsgHdrs | undefined {
  if (trace.getSpanContext(ctx) === undefined) return undefined;
  return natsHeaders(ctx);
}

/**
 * The context a received message's headers carry; without headers or a valid
 * `traceparent` it is the root context, so a span started in it begins a new trace.
 */
export function extractTraceContext(h: MsgHdrs | undefined): Context {
  return propagation.extract(ROOT_CONTEXT, h, getter);
}

function messagingAttributes(
  subject: string,
  operationName: string,
  operationType: string,
  bodySize: number | undefined,
): Attributes {
  const attributes: Attributes = {
    [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_NATS,
    [ATTR_MESSAGING_DESTINATION_NAME]: subject,
    [ATTR_MESSAGING_OPERATION_NAME]: operationName,
    [ATTR_MESSAGING_OPERATION_TYPE]: operationType,
  };
  if (bodySize !== undefined) attributes[ATTR_MESSAGING_MESSAGE_BODY_SIZE] = bodySize;
  return attributes;
}

/**
 * Publishes with a PRODUCER span (`publish <subject>`) whose context rides in the
 * message headers, so the receiver's span joins the same trace as its child.
 * Headers in `opts` are kept and the trace context is added to them.
 */
export function publishTraced(
  nc: NatsConnection,
  subject: string,
  data?: Uint8Array,
  opts: PublishOptions = {},
): void {
  const span = tracer().startSpan(`publish ${subject}`, {
    kind: SpanKind.PRODUCER,
    attributes: messagingAttributes(subject, 'publish', 'send', data?.byteLength),
  });
  try {
    const h = injectTraceContext(opts.headers ?? headers(), trace.setSpan(context.active(), span));
    nc.publish(subject, data, { ...opts, headers: h });
  } catch (error) {
    recordFailure(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/**
 * A request with a CLIENT span (`send <subject>`) that lasts until the reply or
 * the failure (timeout, no responders); its context rides in the headers.
 */
export async function requestTraced(
  nc: NatsConnection,
  subject: string,
  data?: Uint8Array,
  opts: Partial<RequestOptions> = {},
): Promise<Msg> {
  const span = tracer().startSpan(`send ${subject}`, {
    kind: SpanKind.CLIENT,
    attributes: messagingAttributes(subject, 'send', 'send', data?.byteLength),
  });
  try {
    const h = injectTraceContext(opts.headers ?? headers(), trace.setSpan(context.active(), span));
    const reply = await nc.request(subject, data, { timeout: 5_000, ...opts, headers: h });
    return reply;
  } catch (error) {
    recordFailure(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/**
 * Handles a received message inside a span that continues the sender's trace:
 * CONSUMER for a publish, SERVER for a request (the message has a reply subject).
 * `fn` runs with that span active, so its own spans and outgoing traced messages
 * become its children. A throw is recorded on the span and rethrown.
 */
export async function withConsumerSpan<T>(
  msg: Msg,
  name: string,
  fn: (span: Span) => Promise<T> | T,
): Promise<T> {
  const parent = extractTraceContext(msg.headers);
  const isRequest = msg.reply !== undefined && msg.reply !== '';
  const span = tracer().startSpan(
    name,
    {
      kind: isRequest ? SpanKind.SERVER : SpanKind.CONSUMER,
      attributes: messagingAttributes(msg.subject, 'process', 'process', msg.data.byteLength),
    },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (error) {
    recordFailure(span, error);
    throw error;
  } finally {
    span.end();
  }
}
