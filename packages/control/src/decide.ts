/**
 * The leader's decision, pure: from the replicated state, the latest reports
 * and the leader's monotonic now, what should change. The coordinator turns
 * the result into locked, fenced operations; nothing here talks to anyone, so
 * the throughput benchmark and unit tests drive it directly.
 */
import type { NodeRegistration, NodeReport, Placement, ServiceRecord } from '@coxswain/protocol';
import type { ClusterState } from './cluster-state.js';
import { lockBlocks } from './cluster-state.js';
import { isHeard, type ObservedNode } from './liveness.js';
import { type PlacementNode, place } from './placement.js';
import {
  DEFAULT_POLICIES,
  type PolicyInput,
  type RegisteredPolicy,
  type ServiceSample,
} from './policy-registry.js';
import { placeOnStandbys, placeStandbys } from './warm-pool-placement.js';

export type { ObservedNode } from './liveness.js';

export interface DecideInput {
  readonly state: ClusterState;
  readonly observed: ReadonlyMap<string, ObservedNode>;
  readonly history: ReadonlyMap<string, readonly ServiceSample[]>;
  /** Per service: the leader's monotonic ms when its last operation ended (reports before it are stale). */
  readonly settledAtMs: ReadonlyMap<string, number>;
  /** Services with an operation in flight from this leader. */
  readonly busy: ReadonlySet<string>;
  readonly nowMs: number;
  /** The leader's logical time (continues the replicated clock), for lease checks. */
  readonly logicalNowMs: number;
  /** The leader's Raft term: a lock of an earlier term does not hold its service back (lockBlocks). */
  readonly term?: number;
  /** When this process started observing reports: a node unseen since then is not dead before nodeDeadAfter. */
  readonly observingSinceMs: number;
  /** How long after an operation a report must arrive before its counts are trusted. */
  readonly reconcileGraceMs: number;
  readonly policies?: ReadonlyMap<string, RegisteredPolicy>;
}

export interface CommandTarget {
  readonly nodeId: string;
  readonly replicas: number;
  readonly action: 'scale' | 'reconcile';
  /** Paused standbys the node keeps (the service's warm pool); absent for a service without one. */
  readonly standby?: number;
}

export interface Operation {
  readonly service: string;
  readonly specVersion: number;
  readonly desiredReplicas: number;
  readonly placement: Placement;
  /** The warm pool per node, for a service whose policy keeps one (or kept one: then empty). */
  readonly standbyPlacement?: Placement;
  readonly targets: readonly CommandTarget[];
  readonly reason: string;
  /** The service was deleted and nothing of it runs any more: forget it. */
  readonly purge: boolean;
}

export interface Decision {
  readonly register: readonly NodeRegistration[];
  readonly dead: readonly string[];
  readonly operations: readonly Operation[];
}

const ACTIVE = new Set(['running', 'created', 'restarting']);

/** Replicas per service in a report that are (or are about to be) running. */
export function countActive(report: NodeReport): Map<string, number> {
  const counts = new Map<string, number>();
  for (const c of report.containers) {
    if (ACTIVE.has(c.status)) counts.set(c.service, (counts.get(c.service) ?? 0) + 1);
  }
  return counts;
}

/** Aggregates the latest report of every live node into one sample per service. */
export function sampleServices(
  observed: ReadonlyMap<string, ObservedNode>,
  live: ReadonlySet<string>,
  nowMs: number,
): Map<string, ServiceSample> {
  const acc = new Map<
    string,
    { replicas: number; cpuWeighted: number; cpuReplicas: number; rate?: number; p95?: number }
  >();
  for (const [nodeId, node] of observed) {
    if (!live.has(nodeId)) continue;
    for (const [name, f] of Object.entries(node.report.services)) {
      const a = acc.get(name) ?? { replicas: 0, cpuWeighted: 0, cpuReplicas: 0 };
      a.replicas += f.containerCount;
      if (f.cpuPercent !== undefined) {
        a.cpuWeighted += f.cpuPercent * f.containerCount;
        a.cpuReplicas += f.containerCount;
      }
      if (f.requestRatePerSecond !== undefined) a.rate = (a.rate ?? 0) + f.requestRatePerSecond;
      if (f.p95LatencyMs !== undefined) a.p95 = Math.max(a.p95 ?? 0, f.p95LatencyMs);
      acc.set(name, a);
    }
  }
  const out = new Map<string, ServiceSample>();
  for (const [name, a] of acc) {
    out.set(name, {
      atMs: nowMs,
      replicas: a.replicas,
      ...(a.cpuReplicas > 0 ? { cpuPercent: a.cpuWeighted / a.cpuReplicas } : {}),
      ...(a.rate !== undefined ? { requestRatePerSecond: a.rate } : {}),
      ...(a.p95 !== undefined ? { p95LatencyMs: a.p95 } : {}),
    });
  }
  return out;
}

function samePlacement(a: Placement, b: Placement): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if ((a[k] ?? 0) !== (b[k] ?? 0)) return false;
  return true;
}

function registrationOf(report: NodeReport): NodeRegistration {
  return {
    id: report.nodeId,
    address: report.address,
    capacity: report.capacity,
    labels: report.labels,
    role: report.role,
  };
}

function registrationChanged(reg: NodeRegistration, state: ClusterState): boolean {
  const known = state.node(reg.id);
  if (!known) return true;
  if (known.state === 'dead') return true;
  return (
    known.address !== reg.address ||
    known.role !== reg.role ||
    !sameFlat(known.capacity, reg.capacity) ||
    !sameFlat(known.labels, reg.labels)
  );
}

/**
 * Equal flat records (capacity, labels), key order aside. It runs for every fresh node on every
 * pass: with JSON.stringify it was 4 % of the soak leader's CPU at 1,000 nodes.
 */
function sameFlat(a: object, b: object): boolean {
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  // Keys set to undefined count as absent, as they did in JSON.
  let n = 0;
  for (const k in x) {
    if (x[k] !== y[k]) return false;
    if (x[k] !== undefined) n += 1;
  }
  for (const k in y) if (y[k] !== undefined) n -= 1;
  return n === 0;
}

interface DecideContext {
  readonly register: NodeRegistration[];
  readonly dead: string[];
  readonly placeable: ReadonlySet<string>;
  /** Fresh nodes whose last report says their engine is unreachable: they take no replicas. */
  readonly engineDown: ReadonlySet<string>;
  readonly fresh: ReadonlySet<string>;
  /** `fresh` in id order, sorted once per pass rather than once per service. */
  readonly freshSorted: readonly string[];
  readonly usage: ReadonlyMap<string, { replicas: number; cpus: number; memory: number }>;
  readonly activeByNode: ReadonlyMap<string, Map<string, number>>;
  readonly registered: ReadonlyMap<string, NodeRegistration>;
  readonly policies: ReadonlyMap<string, RegisteredPolicy>;
}

function contextOf(input: DecideInput): DecideContext {
  const { state, observed, nowMs } = input;
  const deadAfter = state.settings.nodeDeadAfterMs;
  const fresh = new Set<string>();
  const register: NodeRegistration[] = [];
  for (const [nodeId, node] of observed) {
    if (!isHeard(node, nowMs, deadAfter)) continue;
    fresh.add(nodeId);
    const known = state.node(nodeId);
    // An operator's removal sticks until they say otherwise; a reporting node does not undo it.
    if (known?.state === 'removed') continue;
    const reg = registrationOf(node.report);
    if (registrationChanged(reg, state)) register.push(reg);
  }

  const dead: string[] = [];
  const live = new Set<string>();
  for (const [nodeId, node] of state.nodes()) {
    if (node.state !== 'alive') continue;
    if (fresh.has(nodeId)) {
      live.add(nodeId);
      continue;
    }
    const seen = observed.get(nodeId);
    // Unheard since this process began observing: dead only once it has listened that long.
    if (seen ? !isHeard(seen, nowMs, deadAfter) : nowMs - input.observingSinceMs > deadAfter)
      dead.push(nodeId);
    // Not yet dead: its replicas stay placed there, and it takes no new ones.
  }
  const placeable = new Set(live);
  for (const reg of register) if (fresh.has(reg.id)) placeable.add(reg.id);
  // A replica placed where no engine answers would count as placed and never run (the soak's
  // voters run without Docker). What such a node already has it keeps, like a node not yet dead:
  // an engine restart or a slow socket is not worth moving replicas for, and its own supervisor
  // brings them back when the engine answers again.
  const engineDown = new Set<string>();
  for (const nodeId of fresh)
    if (!observed.get(nodeId)!.report.dockerReachable) {
      engineDown.add(nodeId);
      placeable.delete(nodeId);
    }
  const registered = new Map(register.map((r) => [r.id, r]));

  // What every service reserves on every node, so each placement sees the others'.
  const usage = new Map<string, { replicas: number; cpus: number; memory: number }>();
  for (const service of state.services().values()) {
    for (const [nodeId, count] of Object.entries(service.placement)) {
      const u = usage.get(nodeId) ?? { replicas: 0, cpus: 0, memory: 0 };
      u.replicas += count;
      u.cpus += count * (service.spec.resources.cpus ?? 0);
      u.memory += count * (service.spec.resources.memoryBytes ?? 0);
      usage.set(nodeId, u);
    }
  }
  const activeByNode = new Map<string, Map<string, number>>();
  for (const nodeId of fresh) activeByNode.set(nodeId, countActive(observed.get(nodeId)!.report));
  return {
    register,
    dead,
    placeable,
    engineDown,
    fresh,
    freshSorted: [...fresh].sort(),
    usage,
    activeByNode,
    registered,
    policies: input.policies ?? DEFAULT_POLICIES,
  };
}

export function decide(input: DecideInput): Decision {
  const ctx = contextOf(input);
  const operations: Operation[] = [];
  for (const [name, service] of input.state.services()) {
    if (input.busy.has(name)) continue;
    const lock = input.state.lock(name);
    if (lock && lockBlocks(lock, input.logicalNowMs, input.term)) continue;
    const op = decideService(name, service, input, ctx);
    if (op) operations.push(op);
  }
  return { register: ctx.register, dead: ctx.dead, operations };
}

/**
 * Plans one service regardless of locks: the leader calls it once it holds the
 * service's lock, so the plan starts from the placement as committed. A
 * `manualReplicas` argument plans as if that override were already set.
 */
export function planService(
  input: DecideInput,
  name: string,
  manualReplicas?: number | null,
): Operation | undefined {
  const service = input.state.service(name);
  if (!service) return undefined;
  const effective = manualReplicas === undefined ? service : { ...service, manualReplicas };
  // A decision pass commits new nodes before it plans on them; a plan made under a lock (a manual
  // write, say) does not, so it places only on nodes the committed state knows. Otherwise the
  // scale.set would name a node that is not registered yet and be refused.
  const ctx = contextOf(input);
  const placeable = new Set([...ctx.placeable].filter((id) => input.state.node(id) !== undefined));
  return decideService(name, effective, input, { ...ctx, placeable });
}

/** What the service should run, and why: deleted, pinned by hand, or its policy's count and pool. */
function desiredCount(
  name: string,
  service: ServiceRecord,
  input: DecideInput,
  policies: ReadonlyMap<string, RegisteredPolicy>,
  poolBeforeSize: number,
): { desired: number; reason: string; standby: number | undefined } {
  const { spec } = service;
  let desired: number;
  let reason: string;
  // The warm pool's size; undefined leaves the committed pool as it is (a manual pin).
  let standby: number | undefined;
  if (service.deleted) {
    desired = 0;
    reason = 'service deleted';
    standby = 0;
  } else if (service.manualReplicas !== null) {
    // Never above max, even for an override set before the spec's max was lowered.
    desired = Math.min(spec.maxReplicas, service.manualReplicas);
    reason =
      desired < service.manualReplicas
        ? `manual override: ${service.manualReplicas}, capped at maxReplicas ${desired}`
        : `manual override: ${desired}`;
  } else {
    const policy = policies.get(spec.policy.name);
    const policyState: PolicyInput = {
      service: name,
      currentReplicas: service.desiredReplicas,
      minReplicas: spec.minReplicas,
      maxReplicas: spec.maxReplicas,
      nowMs: input.nowMs,
    };
    if (!policy) {
      desired = Math.min(spec.maxReplicas, Math.max(spec.minReplicas, service.desiredReplicas));
      reason = `unknown policy ${JSON.stringify(spec.policy.name)}: keep the current count`;
    } else {
      const d = policy(input.history.get(name) ?? [], policyState, spec.policy.params);
      desired = d.desiredReplicas;
      reason = d.reason;
      // A pool the policy no longer asks for (warmPool turned off) is emptied.
      standby = d.standbyReplicas ?? (poolBeforeSize > 0 ? 0 : undefined);
      // One standby of slack before shrinking: the forecast's upper quantile moves a little on
      // every report, and each change of the pool is a locked, fenced operation.
      if (standby !== undefined && standby > 0 && standby === poolBeforeSize - 1)
        standby = poolBeforeSize;
    }
  }

  return { desired, reason, standby };
}

function decideService(
  name: string,
  service: ServiceRecord,
  input: DecideInput,
  ctx: DecideContext,
): Operation | undefined {
  const { placeable, freshSorted, usage, activeByNode, registered, policies } = ctx;
  const { spec } = service;
  const poolBefore = service.standbyPlacement ?? {};
  let poolBeforeSize = 0;
  for (const c of Object.values(poolBefore)) poolBeforeSize += c;
  const count = desiredCount(name, service, input, policies, poolBeforeSize);
  const { desired, standby } = count;
  let { reason } = count;

  const nodes: PlacementNode[] = [];
  for (const nodeId of placeable) {
    const capacity = input.state.node(nodeId)?.capacity ?? registered.get(nodeId)?.capacity;
    if (!capacity) continue;
    const u = usage.get(nodeId);
    const mine = service.placement[nodeId] ?? 0;
    nodes.push({
      id: nodeId,
      capacity,
      otherReplicas: (u?.replicas ?? 0) - mine,
      otherCpus: (u?.cpus ?? 0) - mine * (spec.resources.cpus ?? 0),
      otherMemoryBytes: (u?.memory ?? 0) - mine * (spec.resources.memoryBytes ?? 0),
    });
  }
  // Nodes that stopped reporting but are not yet declared dead keep what they have.
  const keep: Placement = {};
  for (const [nodeId, count] of Object.entries(service.placement)) {
    const node = input.state.node(nodeId);
    if (node?.state === 'alive' && !placeable.has(nodeId)) keep[nodeId] = count;
  }
  let keptCount = 0;
  for (const c of Object.values(keep)) keptCount += c;
  // A scale-up goes first where standbys wait: there it is an unpause, elsewhere a cold start.
  let start = service.placement;
  let placedBefore = 0;
  for (const c of Object.values(service.placement)) placedBefore += c;
  const want = Math.max(0, desired - keptCount);
  if (want > placedBefore && poolBeforeSize > 0) {
    const onPlaceable = new Set(nodes.map((n) => n.id));
    start = placeOnStandbys(service.placement, want - placedBefore, poolBefore, (id) =>
      onPlaceable.has(id),
    ).placement;
  }
  const placed = place(start, want, nodes, spec);
  const placement: Placement = { ...placed.placement, ...keep };
  if (placed.placed + keptCount < desired) {
    reason = `${reason}; capacity for only ${placed.placed + keptCount} of ${desired}`;
  }
  const pool =
    standby === undefined
      ? undefined
      : placeStandbys(standby, placement, poolBefore, nodes.map((n) => n.id).sort());
  const standbyOf = (nodeId: string): { standby?: number } =>
    pool === undefined ? {} : { standby: pool[nodeId] ?? 0 };

  const settledAt = input.settledAtMs.get(name) ?? Number.NEGATIVE_INFINITY;
  const targets: CommandTarget[] = [];
  let anyObserved = false;
  for (const nodeId of freshSorted) {
    const want = placement[nodeId] ?? 0;
    const before = service.placement[nodeId] ?? 0;
    const observedNode = input.observed.get(nodeId)!;
    const active = activeByNode.get(nodeId)?.get(name) ?? 0;
    if (active > 0) anyObserved = true;
    const poolChanged = pool !== undefined && (pool[nodeId] ?? 0) !== (poolBefore[nodeId] ?? 0);
    if (want !== before || poolChanged) {
      targets.push({ nodeId, replicas: want, action: 'scale', ...standbyOf(nodeId) });
    } else if (
      active !== want &&
      // Without an engine it could not act on it, and its report cannot show what runs.
      !ctx.engineDown.has(nodeId) &&
      observedNode.receivedAtMs > settledAt + input.reconcileGraceMs &&
      input.state.node(nodeId)?.state !== 'removed'
    ) {
      // The node runs a different count than assigned: after a failover, a return from the
      // dead, or a replica its own supervisor could not bring back.
      targets.push({ nodeId, replicas: want, action: 'reconcile', ...standbyOf(nodeId) });
    }
  }

  // A node that was dead when its replicas were taken away may still run them: once it reports
  // again it is told its count (0 for a deleted service), whatever it reports, and a deleted
  // service is not forgotten while such a node may come back (until it is removed).
  let strandedLeft = false;
  for (const nodeId of service.strandedOn ?? []) {
    if (input.state.node(nodeId)?.state === 'removed') continue;
    if (!ctx.fresh.has(nodeId)) {
      strandedLeft = true;
      continue;
    }
    if (!targets.some((t) => t.nodeId === nodeId))
      targets.push({ nodeId, replicas: placement[nodeId] ?? 0, action: 'reconcile' });
  }

  const purge =
    service.deleted &&
    targets.length === 0 &&
    !anyObserved &&
    !strandedLeft &&
    Object.keys(placement).length === 0;
  const changed =
    desired !== service.desiredReplicas ||
    !samePlacement(placement, service.placement) ||
    (pool !== undefined && !samePlacement(pool, poolBefore)) ||
    targets.length > 0;
  if (!changed && !purge) return undefined;
  if (changed) {
    // Every live node holding the service hears the new token, even with an unchanged count: from
    // then on it refuses the previous holder's commands (a deposed leader that still reaches it).
    const named = new Set(targets.map((t) => t.nodeId));
    for (const nodeId of freshSorted) {
      if (named.has(nodeId)) continue;
      const want = placement[nodeId] ?? 0;
      if (
        want > 0 ||
        (service.placement[nodeId] ?? 0) > 0 ||
        (pool?.[nodeId] ?? 0) > 0 ||
        (poolBefore[nodeId] ?? 0) > 0
      )
        targets.push({ nodeId, replicas: want, action: 'scale', ...standbyOf(nodeId) });
    }
  }
  return {
    service: name,
    specVersion: service.specVersion,
    desiredReplicas: desired,
    placement,
    ...(pool === undefined ? {} : { standbyPlacement: pool }),
    targets,
    reason,
    purge,
  };
}
