/**
 * What the page knows: the latest replies, and the history it kept itself
 * (desired and running per service, the commit index) since it was opened,
 * for charts of what the API serves only as a current value.
 */
import type {
  Cluster,
  Command,
  Decision,
  Event,
  Lock,
  NodeView,
  ServiceDetail,
  ServiceSummary,
  Span,
} from './schemas.js';

export interface Sample {
  /** Epoch seconds, as uPlot wants them. */
  readonly t: number;
  readonly desired: number;
  readonly running: number;
  readonly placed: Readonly<Record<string, number>>;
  readonly runningByNode: Readonly<Record<string, number>>;
}

export interface State {
  cluster?: Cluster;
  /** When the page first saw the current leader (epoch ms), for "leader since". */
  leaderSeenAt?: number;
  nodes: NodeView[];
  services: ServiceSummary[];
  detail?: ServiceDetail;
  /** undefined: not asked yet; null: this agent does not serve the route. */
  decisions?: Decision[] | null;
  commands: Command[];
  commandsTotal?: number;
  locks: Lock[];
  events: Event[];
  spans: Span[];
  selectedService?: string;
  selectedTrace?: string;
  /** Per service, newest last, at most HISTORY_MAX. */
  history: Map<string, Sample[]>;
  commitHistory: { t: number; commit: number; applied: number }[];
  errors: Map<string, string>;
  stream: 'connecting' | 'live' | 'down';
}

export const HISTORY_MAX = 900;
export const MAX_EVENTS = 500;

export const state: State = {
  nodes: [],
  services: [],
  commands: [],
  locks: [],
  events: [],
  spans: [],
  history: new Map(),
  commitHistory: [],
  errors: new Map(),
  stream: 'connecting',
};

export function recordServices(services: readonly ServiceSummary[], nowMs: number): void {
  const t = nowMs / 1000;
  for (const s of services) {
    const list = state.history.get(s.name) ?? [];
    const running = Object.values(s.running).reduce((a, b) => a + b, 0);
    list.push({
      t,
      desired: s.desiredReplicas ?? 0,
      running,
      placed: { ...s.placement },
      runningByNode: { ...s.running },
    });
    if (list.length > HISTORY_MAX) list.splice(0, list.length - HISTORY_MAX);
    state.history.set(s.name, list);
  }
}

export function recordCommit(c: Cluster, nowMs: number): void {
  if (c.commitIndex === undefined) return;
  state.commitHistory.push({
    t: nowMs / 1000,
    commit: c.commitIndex,
    applied: c.appliedIndex ?? c.commitIndex,
  });
  if (state.commitHistory.length > HISTORY_MAX) state.commitHistory.shift();
}
