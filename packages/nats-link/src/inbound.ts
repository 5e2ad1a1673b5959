/**
 * Validated NATS subscriptions. Every payload is decoded against its zod schema
 * with a size limit; a bad one is counted per subject and reason (shown in
 * /metrics as `coxswain_rejected_messages_total{subject,reason}`), logged at
 * most once per minute per subject (a flood of garbage must not become a flood
 * of logs), and dropped. A handler that throws is counted too. Nothing here
 * throws into the subscription loop, so one bad peer cannot stop a subscriber.
 *
 * The coordinator reuses this for commands: pass a `reply` handler result by
 * using `msg.respond` inside the handler (the raw message is the second argument).
 */
import { decode } from '@coxswain/protocol';
import { type Counter, type Logger, LogLimiter } from '@coxswain/telemetry';
import type { Msg, NatsConnection, Subscription } from 'nats';
import type { z } from 'zod';

export interface InboundCounters {
  /** Labelled {subject, reason}; reason is the error code (COX_PAYLOAD_TOO_LARGE, COX_MALFORMED_PAYLOAD, COX_INVALID_PAYLOAD, COX_HANDLER_FAILED). */
  readonly rejected: Counter;
  /** Labelled {subject}. */
  readonly accepted?: Counter;
}

export interface SubscribeValidatedOptions {
  /** Label used in metrics instead of the concrete subject (e.g. `cox.c.report.*` rather than each node's). */
  readonly subjectLabel?: string;
  readonly queue?: string;
  readonly rateLimitedLog?: LogLimiter;
  /** Messages to pass over before decoding (e.g. this node's own reports, which it already has). */
  readonly ignore?: (msg: Msg) => boolean;
}

export function subscribeValidated<S extends z.ZodType>(
  nc: NatsConnection,
  subject: string,
  schema: S,
  maxBytes: number,
  handler: (value: z.output<S>, msg: Msg) => void | Promise<void>,
  counters: InboundCounters,
  logger: Logger,
  options: SubscribeValidatedOptions = {},
): Subscription {
  const label = options.subjectLabel ?? subject;
  const limiter = options.rateLimitedLog ?? new LogLimiter();
  const reject = (reason: string, message: string, msg: Msg): void => {
    counters.rejected.inc({ subject: label, reason });
    const suppressed = limiter.take(label);
    if (suppressed !== undefined) {
      logger.warn('dropped invalid message', {
        subject: msg.subject,
        reason,
        error: message,
        suppressedSinceLast: suppressed,
      });
    }
  };
  return nc.subscribe(subject, {
    ...(options.queue ? { queue: options.queue } : {}),
    callback: (err, msg) => {
      if (err) {
        logger.warn('subscription error', { subject, error: err });
        return;
      }
      if (options.ignore?.(msg)) return;
      try {
        const result = decode(schema, msg.data, { where: msg.subject, maxBytes });
        if (!result.ok) {
          reject(result.error.code, result.error.message, msg);
          return;
        }
        counters.accepted?.inc({ subject: label });
        const done = handler(result.value, msg);
        if (done && typeof (done as Promise<void>).then === 'function') {
          (done as Promise<void>).catch((error: unknown) => {
            reject(
              'COX_HANDLER_FAILED',
              error instanceof Error ? error.message : String(error),
              msg,
            );
          });
        }
      } catch (error) {
        reject('COX_HANDLER_FAILED', error instanceof Error ? error.message : String(error), msg);
      }
    },
  });
}
