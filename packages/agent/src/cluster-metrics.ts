/**
 * The cluster's series of deploy/prometheus/METRICS.md (Raft, leadership,
 * services, nodes), read at scrape time from this node's replica and Raft
 * status, and the Raft health `GET /v1/cluster` shows (`ClusterHealth`).
 */
import type { ClusterHealth, ClusterStateSnapshot } from '@coxswain/protocol';
import type { MetricsRegistry } from '@coxswain/telemetry';
import type { Status } from 'raft-consensus-ts';

/**
 * `coxswain_rejected_messages_total`'s labels as METRICS.md defines them: the
 * kind of subject (report, raft, cmd, events, api; other for the rest) and
 * the reason (invalid, malformed, too_large; else the code, lower-cased).
 */
export function rejectedLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  const subject = labels.subject ?? '';
  const kind = /(^|\.)report(\.|$)/.test(subject)
    ? 'report'
    : /(^|\.)hb(\.|$)/.test(subject)
      ? 'heartbeat'
      : /(^|\.)raft(\.|$)/.test(subject)
        ? 'raft'
        : /(^|\.)cmd(\.|$)|^reply /.test(subject)
          ? 'cmd'
          : /(^|\.)events?(\.|$)|^(listener|publish|decode)$/.test(subject)
            ? 'events'
            : /(^|\.)api(\.|$)/.test(subject)
              ? 'api'
              : 'other';
  const code = labels.reason ?? '';
  const reason =
    {
      COX_INVALID_PAYLOAD: 'invalid',
      COX_MALFORMED_PAYLOAD: 'malformed',
      COX_PAYLOAD_TOO_LARGE: 'too_large',
    }[code] ?? code.replace(/^COX_/, '').toLowerCase();
  return { reason, subject: kind };
}

/** A voter unheard from for longer than this, or further behind, is not healthy. */
export const HEALTHY_CONTACT_MS = 5000;
export const HEALTHY_LAG_ENTRIES = 1000;

export interface HealthInput {
  readonly status: Status;
  /** Ms since this node last heard from each node (its NATS report), by node id. */
  readonly contactAgeMs: ReadonlyMap<string, number>;
  readonly connectedServer: string | null;
  readonly knownServers: readonly string[];
}

/**
 * Raft health as the leader sees it, null elsewhere (only the leader knows its
 * followers' match index). The Raft library's status carries no last-contact
 * time, so a voter's last contact is the age of its latest NATS report here.
 */
export function raftHealth(h: HealthInput): ClusterHealth | null {
  const s = h.status;
  if (s.role !== 'leader' || !s.progress) return null;
  const voters = s.membership.voters.map((id) => {
    const self = id === s.id;
    const match = self ? s.lastIndex : (s.progress?.[id]?.match ?? null);
    const lag = match === null ? null : Math.max(0, s.commitIndex - match);
    const contact = self ? 0 : (h.contactAgeMs.get(id) ?? null);
    const healthy =
      contact !== null &&
      contact <= HEALTHY_CONTACT_MS &&
      lag !== null &&
      lag <= HEALTHY_LAG_ENTRIES;
    return {
      id,
      leader: self,
      lastContactMs: contact === null ? null : Math.round(contact),
      matchIndex: match,
      lag,
      healthy,
    };
  });
  const quorum = Math.floor(voters.length / 2) + 1;
  const healthyVoters = voters.filter((v) => v.healthy).length;
  return {
    voters,
    quorum,
    healthyVoters,
    failureTolerance: Math.max(0, healthyVoters - quorum),
    nats: { connectedServer: h.connectedServer, knownServers: [...h.knownServers] },
  };
}

export interface ClusterMetricsSource {
  status(): Status | undefined;
  snapshot(): ClusterStateSnapshot;
  health(): ClusterHealth | null;
  /** Healthy replicas per service over all nodes, from the latest reports. */
  running(): ReadonlyMap<string, number>;
  reportAgeMs(): ReadonlyMap<string, number>;
  /** Commands this agent refused for a stale fencing token, by service. */
  staleRefused(): ReadonlyMap<string, number>;
  /** Commands this agent refused for their signature, by code. */
  unauthenticated(): ReadonlyMap<string, number>;
  /** Reports the cluster member's intake accepted (decoded, right cluster) since start. */
  reportsAccepted(): { readonly voter: number; readonly client: number };
}

/** Until ServiceSpec carries a recovery SLA, every service may spend this long below desired. */
export const DEFAULT_RECOVERY_SLA_SECONDS = 60;

/**
 * How long each service has been below desired without a break, as seen at
 * each scrape (a dip between two scrapes that heals before the next is not
 * seen). Monotonic `nowMs`.
 */
export class BelowDesired {
  readonly #since = new Map<string, number>();
  observe(
    desired: ReadonlyMap<string, number>,
    running: ReadonlyMap<string, number>,
    nowMs: number,
  ) {
    const out: { labels: { service: string }; value: number }[] = [];
    for (const [service, want] of desired) {
      const below = (running.get(service) ?? 0) < want;
      if (!below) this.#since.delete(service);
      else if (!this.#since.has(service)) this.#since.set(service, nowMs);
      const since = this.#since.get(service);
      out.push({ labels: { service }, value: since === undefined ? 0 : (nowMs - since) / 1000 });
    }
    for (const service of [...this.#since.keys()])
      if (!desired.has(service)) this.#since.delete(service);
    return out;
  }
}

/** Registers the cluster's gauges and returns the leader-change hook (call it on each `leader-changed`). */
export function registerClusterMetrics(m: MetricsRegistry, src: ClusterMetricsSource): () => void {
  const st = (f: (s: Status) => number) => () => {
    const s = src.status();
    return s ? f(s) : [];
  };
  m.gauge(
    'coxswain_raft_is_leader',
    '1 on the node that is the Raft leader now, 0 elsewhere.',
    st((s) => (s.role === 'leader' ? 1 : 0)),
  );
  m.gauge(
    'coxswain_raft_has_leader',
    '1 when this node knows a leader of the current term.',
    st((s) => (s.leader ? 1 : 0)),
  );
  m.gauge(
    'coxswain_raft_term',
    'The current Raft term as this node knows it.',
    st((s) => s.term),
  );
  m.gauge(
    'coxswain_raft_commit_index',
    'The highest log index this node knows committed.',
    st((s) => s.commitIndex),
  );
  m.gauge(
    'coxswain_raft_applied_index',
    'The highest log index this node applied.',
    st((s) => s.appliedIndex),
  );
  m.gauge(
    'coxswain_raft_voters',
    'Voters in the configuration.',
    st((s) => s.membership.voters.length),
  );
  m.gauge(
    'coxswain_raft_failure_tolerance',
    'Voters that can be lost now with a majority left (leader only).',
    () => {
      const h = src.health();
      return h ? h.failureTolerance : [];
    },
  );
  const changes = m.counter(
    'coxswain_raft_leader_changes_total',
    'Times this node saw the leader change (a new leader, or none).',
  );
  m.gauge(
    'coxswain_locks_held',
    'Service locks held in the replicated state.',
    () => Object.keys(src.snapshot().locks).length,
  );
  m.gauge(
    'coxswain_service_desired_replicas',
    'Desired replicas in the replicated state.',
    () =>
      Object.entries(src.snapshot().services)
        .filter(([, r]) => !r.deleted)
        .map(([service, r]) => ({ labels: { service }, value: r.desiredReplicas })),
    ['service'],
  );
  m.gauge(
    'coxswain_service_running_replicas',
    'Healthy replicas counted from the latest reports, over all nodes.',
    () => [...src.running()].map(([service, value]) => ({ labels: { service }, value })),
    ['service'],
  );
  m.gauge(
    'coxswain_node_up',
    '1 for a node declared alive, 0 for one declared dead.',
    () =>
      Object.values(src.snapshot().nodes)
        .filter((n) => n.state !== 'removed')
        .map((n) => ({ labels: { node_id: n.id }, value: n.state === 'alive' ? 1 : 0 })),
    ['node_id'],
  );
  m.gauge(
    'coxswain_node_report_age_seconds',
    "Age of the node's latest report as this node measured it.",
    () => [...src.reportAgeMs()].map(([id, ms]) => ({ labels: { node_id: id }, value: ms / 1000 })),
    ['node_id'],
  );
  m.counterFrom(
    'coxswain_reports_accepted_total',
    "Node reports this member's intake decoded and took in (every voter hears every report).",
    () => {
      const a = src.reportsAccepted();
      return [
        { labels: { role: 'voter' }, value: a.voter },
        { labels: { role: 'client' }, value: a.client },
      ];
    },
    ['role'],
  );
  m.counterFrom(
    'coxswain_stale_tokens_refused_total',
    'On an agent: commands refused because their fencing token was below the highest stored for the service.',
    () => [...src.staleRefused()].map(([service, value]) => ({ labels: { service }, value })),
    ['service'],
  );
  m.counterFrom(
    'coxswain_commands_unauthenticated_total',
    'On an agent: commands refused before their token was looked at: unsigned, wrongly signed, or signed by a non-voter.',
    () => [...src.unauthenticated()].map(([code, value]) => ({ labels: { code }, value })),
    ['code'],
  );
  const desiredOf = () =>
    new Map(
      Object.entries(src.snapshot().services)
        .filter(([, r]) => !r.deleted)
        .map(([service, r]) => [service, r.desiredReplicas] as const),
    );
  const below = new BelowDesired();
  m.gauge(
    'coxswain_service_below_desired_seconds',
    'How long running has been below desired without a break (0 when it is not), as seen at scrapes.',
    () => below.observe(desiredOf(), src.running(), performance.now()),
    ['service'],
  );
  m.gauge(
    'coxswain_service_recovery_sla_seconds',
    'The time the service may spend below desired (60 s until ServiceSpec carries an SLA).',
    () =>
      [...desiredOf().keys()].map((service) => ({
        labels: { service },
        value: DEFAULT_RECOVERY_SLA_SECONDS,
      })),
    ['service'],
  );
  return () => changes.inc();
}
