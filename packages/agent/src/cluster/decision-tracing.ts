/**
 * Spans of the leader's decision path, so one trace runs from the report that
 * triggered a decision through the decision itself (the policy's inputs and
 * reason as attributes), `lock.acquire`, each command (its context rides in
 * the NATS headers to the agent, whose execution and Docker calls continue
 * it), to `lock.release`. Elections are spans too.
 *
 * The helpers wrap the coordinator's existing callbacks (propose, send, plan)
 * rather than living inside the lock protocol, which stays free of telemetry.
 * Proposals and commands outside an operation's span (node registrations, a
 * pass's bookkeeping) are not traced: each would be a trace of its own.
 */

import type { Operation, ServiceDecisionRecord } from '@coxswain/control';
import type { ClusterCommandInput, NodeReport, ScaleCommand, ScaleReply } from '@coxswain/protocol';
import { extractTraceContext, recordFailure, withSpan } from '@coxswain/telemetry';
import {
  type Attributes,
  type Context,
  context,
  ROOT_CONTEXT,
  type Span,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { MsgHdrs } from 'nats';
import type { RaftEvent } from 'raft-consensus-ts';

export const DECISION_SPANS = {
  operation: 'coxswain.scale_operation',
  decide: 'coxswain.decide',
  lockAcquire: 'coxswain.lock.acquire',
  lockRelease: 'coxswain.lock.release',
  commit: 'coxswain.raft.commit',
  command: 'coxswain.command',
  election: 'coxswain.election',
} as const;

/** Looked up per call: after a telemetry restart the global provider is a new one. */
function tracer(): Tracer {
  return trace.getTracer('coxswain-coordinator');
}

const MAX_REASON_CHARS = 512;

/** Only inside a traced operation: a proposal on its own would start a one-span trace per pass. */
function inOperation(): boolean {
  return trace.getSpan(context.active()) !== undefined;
}

/**
 * The trace context of the newest report that carried each service: a
 * decision about the service continues that report's trace, so the trace
 * shows the report (and its node's sampling) that the decision acted on.
 */
export class ReportContexts {
  readonly #byService = new Map<string, Context>();

  observe(report: NodeReport, headers: MsgHdrs | undefined): void {
    if (!headers) return;
    const ctx = extractTraceContext(headers);
    if (trace.getSpanContext(ctx) === undefined) return;
    for (const name of Object.keys(report.services)) this.#byService.set(name, ctx);
  }

  contextFor(service: string): Context | undefined {
    return this.#byService.get(service);
  }

  forget(service: string): void {
    this.#byService.delete(service);
  }
}

/**
 * Runs `fn` with `parent` (the triggering report's context, or an API
 * request's) as the parent of the spans it starts; without one, in a new
 * trace. Never the merely active context: the coordinator's timers inherit the
 * context that scheduled them, so every later pass would otherwise join the
 * trace of whatever request first poked the loop.
 */
export function withReportContext<T>(parent: Context | undefined, fn: () => T): T {
  return context.with(parent ?? ROOT_CONTEXT, fn);
}

/** A Raft commit of the decision path: `lock.acquire`, `lock.release`, or the others by type. */
export function traceProposal<T extends { readonly index: number }>(
  command: ClusterCommandInput,
  fn: () => Promise<T>,
): Promise<T> {
  if (!inOperation()) return fn();
  const name =
    command.type === 'lock.acquire'
      ? DECISION_SPANS.lockAcquire
      : command.type === 'lock.release'
        ? DECISION_SPANS.lockRelease
        : DECISION_SPANS.commit;
  const attributes: Attributes = { 'coxswain.command_type': command.type };
  if ('service' in command && typeof command.service === 'string')
    attributes['coxswain.service'] = command.service;
  if ('token' in command && typeof command.token === 'number')
    attributes['coxswain.token'] = command.token;
  return withSpan(tracer(), name, attributes, async (span) => {
    const committed = await fn();
    span.setAttribute('coxswain.raft.index', committed.index);
    const result = (committed as { result?: { ok?: boolean; code?: string } }).result;
    if (result?.ok === false && result.code) span.setAttribute('coxswain.refused', result.code);
    return committed;
  });
}

/** One scale command to one agent; the NATS request inside it carries its context to the agent. */
export function traceCommand(
  nodeId: string,
  command: ScaleCommand,
  fn: () => Promise<ScaleReply>,
): Promise<ScaleReply> {
  return withSpan(
    tracer(),
    DECISION_SPANS.command,
    {
      'coxswain.service': command.service,
      'coxswain.target_node': nodeId,
      'coxswain.command_id': command.id,
      'coxswain.replicas': command.replicas,
      'coxswain.token': command.token,
      'coxswain.term': command.term,
      ...(command.reason ? { 'coxswain.reason': command.reason.slice(0, MAX_REASON_CHARS) } : {}),
    },
    async (span) => {
      const reply = await fn();
      span.setAttribute('coxswain.reply_ok', reply.ok);
      if (reply.ok) {
        span.setAttributes({
          'coxswain.running': reply.running,
          'coxswain.started': reply.started,
          'coxswain.stopped': reply.stopped,
          'coxswain.agent_duration_ms': reply.durationMs,
        });
      } else {
        span.setAttribute('coxswain.reply_code', reply.code);
      }
      return reply;
    },
  );
}

/** The policy's inputs and outcome as span attributes (absent figures stay absent). */
export function decisionAttributes(d: ServiceDecisionRecord | undefined): Attributes {
  if (!d) return {};
  const a: Attributes = {
    'coxswain.policy': d.policy,
    'coxswain.policy.current_replicas': d.currentReplicas,
    'coxswain.policy.samples': d.samples,
    'coxswain.policy.desired_replicas': d.desiredReplicas,
    'coxswain.policy.reason': d.reason.slice(0, MAX_REASON_CHARS),
  };
  if (d.predictedRequestRatePerSecond !== undefined)
    a['coxswain.policy.predicted_request_rate'] = d.predictedRequestRatePerSecond;
  if (d.leadTimeSeconds !== undefined) a['coxswain.policy.lead_time_s'] = d.leadTimeSeconds;
  const s = d.latest;
  if (s) {
    a['coxswain.input.replicas'] = s.replicas;
    if (s.cpuPercent !== undefined) a['coxswain.input.cpu_percent'] = s.cpuPercent;
    if (s.requestRatePerSecond !== undefined)
      a['coxswain.input.request_rate'] = s.requestRatePerSecond;
    if (s.p95LatencyMs !== undefined) a['coxswain.input.p95_latency_ms'] = s.p95LatencyMs;
  }
  return a;
}

/**
 * The decision under the lock: runs the (synchronous, pure) plan in a span and
 * records the plan's outcome and, from `inputs` (read after the plan ran), what
 * the policy saw and said.
 */
export function tracePlan(
  service: string,
  plan: () => Operation | undefined,
  inputs?: (service: string) => ServiceDecisionRecord | undefined,
): Operation | undefined {
  return tracer().startActiveSpan(
    DECISION_SPANS.decide,
    { attributes: { 'coxswain.service': service } },
    (span) => {
      try {
        const startedMs = performance.now();
        const op = plan();
        // Only a record this plan made: a manual override or a deletion does not ask the policy.
        const record = inputs?.(service);
        if (record && record.nowMs >= startedMs) span.setAttributes(decisionAttributes(record));
        if (op) {
          span.setAttributes({
            'coxswain.desired_replicas': op.desiredReplicas,
            'coxswain.reason': op.reason.slice(0, MAX_REASON_CHARS),
            'coxswain.targets': op.targets.length,
            'coxswain.purge': op.purge,
          });
        } else {
          span.setAttribute('coxswain.change', false);
        }
        return op;
      } catch (error) {
        recordFailure(span, error);
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/**
 * Election spans from the Raft runtime's events: one span per campaign, from
 * `election-started` to `election-won` or `election-lost` (or a role change
 * that ends it), with the term and the outcome.
 */
export class ElectionSpans {
  readonly #nodeId: string;
  #open: { span: Span; term: number } | undefined;

  constructor(nodeId: string) {
    this.#nodeId = nodeId;
  }

  observe(e: RaftEvent): void {
    switch (e.type) {
      case 'election-started':
        this.#end('superseded', e.term);
        this.#open = {
          term: e.term,
          span: tracer().startSpan(
            DECISION_SPANS.election,
            {
              attributes: {
                'coxswain.node': this.#nodeId,
                'coxswain.term': e.term,
                'coxswain.election.pre_vote': e.preVote,
              },
            },
            // A campaign starts its own trace; it is not part of whatever happened to be active.
            ROOT_CONTEXT,
          ),
        };
        return;
      case 'election-won':
        this.#end('won', e.term, e.ticks);
        return;
      case 'election-lost':
        this.#end('lost', e.term, e.ticks);
        return;
      case 'role-changed':
        if (e.to === 'leader') this.#end('won', e.term);
        else if (e.to === 'follower') this.#end('lost', e.term);
        return;
      default:
        return;
    }
  }

  #end(outcome: 'won' | 'lost' | 'superseded', term: number, ticks?: number): void {
    const open = this.#open;
    if (!open) return;
    this.#open = undefined;
    open.span.setAttributes({
      'coxswain.election.outcome': outcome,
      'coxswain.election.final_term': term,
      ...(ticks !== undefined ? { 'coxswain.election.ticks': ticks } : {}),
    });
    open.span.end();
  }

  /** Ends a campaign still open (the member is stopping). */
  close(): void {
    this.#end('superseded', this.#open?.term ?? 0);
  }
}
