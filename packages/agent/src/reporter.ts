/**
 * The report publisher, over the agent's `NatsLink` (@coxswain/nats-link).
 *
 * nats.js 2.x has no `reconnectBufSize`: while disconnected it would queue
 * every publish in memory without bound. So `Reporter` publishes only while
 * the link is connected; a report made while disconnected is dropped and
 * counted (`coxswain_reports_dropped_total`). A report is a snapshot, and the
 * next one supersedes it, so nothing of value is lost.
 */

import type { NatsLink } from '@coxswain/nats-link';
import type { AgentConfig } from '@coxswain/protocol';
import { encode, MAX_REPORT_BYTES, NodeReport, subjects } from '@coxswain/protocol';
import type { Counter } from '@coxswain/telemetry';
import { type Logger, silentLogger } from '@coxswain/telemetry';
import type { MsgHdrs } from 'nats';

export interface ReporterCounters {
  readonly published: Counter;
  /** Labelled {reason}: disconnected, too_large, error. */
  readonly dropped: Counter;
}

export type PublishOutcome = 'published' | 'disconnected' | 'too_large' | 'error';

export class Reporter {
  readonly #link: NatsLink;
  readonly #subject: string;
  readonly #counters: ReporterCounters;
  readonly #logger: Logger;
  readonly #headers: (() => MsgHdrs | undefined) | undefined;
  #lastDropLogMs = Number.NEGATIVE_INFINITY;

  constructor(options: {
    link: NatsLink;
    config: Pick<AgentConfig, 'cluster' | 'nodeId'>;
    counters: ReporterCounters;
    logger?: Logger;
    /** Trace-context headers for each publish (telemetry's natsHeaders), when available. */
    headers?: () => MsgHdrs | undefined;
  }) {
    this.#link = options.link;
    this.#subject = subjects(options.config.cluster).report(options.config.nodeId);
    this.#counters = options.counters;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'reporter' });
    this.#headers = options.headers;
  }

  get subject(): string {
    return this.#subject;
  }

  /** Publishes one report, or drops and counts it; never throws. */
  publish(report: NodeReport): PublishOutcome {
    const nc = this.#link.connection;
    if (!nc || !this.#link.connected) return this.#drop('disconnected');
    let payload: Uint8Array;
    try {
      payload = encode(NodeReport, report);
      if (payload.byteLength > MAX_REPORT_BYTES) {
        // Peers would refuse it; keep the per-service figures, which is what the leader needs.
        payload = encode(NodeReport, { ...report, containers: [] });
        if (payload.byteLength > MAX_REPORT_BYTES) return this.#drop('too_large');
        this.#counters.dropped.inc({ reason: 'containers_trimmed' });
      }
    } catch (error) {
      this.#logger.error('report failed its own schema', { error });
      return this.#drop('error');
    }
    try {
      const headers = this.#headers?.();
      nc.publish(this.#subject, payload, headers ? { headers } : undefined);
      this.#counters.published.inc();
      return 'published';
    } catch (error) {
      this.#logger.warn('publish failed', { error });
      return this.#drop('error');
    }
  }

  #drop(reason: Exclude<PublishOutcome, 'published'>): PublishOutcome {
    this.#counters.dropped.inc({ reason });
    const now = performance.now();
    if (now - this.#lastDropLogMs > 60_000) {
      this.#lastDropLogMs = now;
      this.#logger.warn('report dropped', { reason });
    }
    return reason;
  }
}
