/**
 * The replicated cluster state: a pure, deterministic state machine. Every
 * replica applies the same committed Raft entries in the same order and must
 * end in the same state, so nothing here reads a clock, a random source or the
 * environment: time comes from the commands (`at`, the proposer's logical ms)
 * and the fencing token is the entry's own Raft index.
 */
import {
  type AppliedWrite,
  type ClusterApplyResult,
  ClusterCommand,
  type ClusterCommandInput,
  type ClusterSettings,
  ClusterStateSnapshot,
  type CommandRecord,
  decode,
  type LockRecord,
  MANUAL_SEQ_PER_INDEX,
  type NodeRecord,
  type Placement,
  PROTOCOL_VERSION,
  type ServiceRecord,
  type ServiceSpec,
  validate,
} from '@coxswain/protocol';
import { WriteKeys } from './write-keys.js';

/** Start-to-ready samples kept per service (ServiceRecord.startDurationsMs). */
export const START_DURATIONS_KEPT = 20;

export const DEFAULT_SETTINGS: ClusterSettings = {
  decideIntervalMs: 1000,
  nodeDeadAfterMs: 1000,
  lockLeaseMs: 15_000,
  commandLogLimit: 1000,
};

/** The minimal shape of a Raft log entry this machine needs (structurally a raft-consensus-ts Entry). */
export interface AppliedEntry {
  readonly index: number;
  readonly type: 'normal' | 'config' | 'noop';
  readonly data: Uint8Array;
}

const encoder = new TextEncoder();

/** Serialises a command for `RaftNode.propose`; validates first so we never propose what apply would refuse as malformed. */
export function encodeClusterCommand(command: ClusterCommandInput): Uint8Array {
  return encoder.encode(JSON.stringify(ClusterCommand.parse(command)));
}

function fail(
  code: Extract<ClusterApplyResult, { ok: false }>['code'],
  message: string,
  heldBy?: LockRecord,
): ClusterApplyResult {
  return heldBy ? { ok: false, code, message, heldBy } : { ok: false, code, message };
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function clamp(n: number, spec: ServiceSpec): number {
  return Math.min(spec.maxReplicas, Math.max(spec.minReplicas, n));
}

/** The override order after a spec write at `index`: overrides accepted before it stay out. */
function orderAfter(existing: ServiceRecord | undefined, index: number): number {
  return Math.max(existing?.manualSeq ?? 0, index * MANUAL_SEQ_PER_INDEX);
}

function withoutStranded(record: ServiceRecord): ServiceRecord {
  const { strandedOn: _, ...rest } = record;
  return rest;
}

export function lockExpired(lock: LockRecord, atMs: number): boolean {
  return atMs >= lock.acquiredAtMs + lock.leaseMs;
}

/**
 * Whether `lock` keeps a holder in `term` out at `atMs`. A lock of an earlier
 * term is taken over at once: Raft guarantees its leader can no longer commit
 * (the state machine fences its writes by token), and agents refuse its
 * commands once they have seen the newer token. Without a term, only the lease frees it.
 */
export function lockBlocks(lock: LockRecord, atMs: number, term?: number): boolean {
  if (term !== undefined && lock.term < term) return false;
  return !lockExpired(lock, atMs);
}

export class ClusterState {
  #clockMs = 0;
  #appliedIndex = 0;
  #services = new Map<string, ServiceRecord>();
  #locks = new Map<string, LockRecord>();
  #commands: CommandRecord[] = [];
  #commandIndex = new Map<string, CommandRecord>();
  #nodes = new Map<string, NodeRecord>();
  #settings: ClusterSettings;
  /** Entries refused as malformed: identical on every replica, counted for /metrics. */
  #invalidEntries = 0;
  #writes = new WriteKeys();

  constructor(settings: Partial<ClusterSettings> = {}) {
    this.#settings = { ...DEFAULT_SETTINGS, ...settings };
  }

  get clockMs(): number {
    return this.#clockMs;
  }
  get appliedIndex(): number {
    return this.#appliedIndex;
  }
  get settings(): ClusterSettings {
    return this.#settings;
  }
  get invalidEntries(): number {
    return this.#invalidEntries;
  }
  service(name: string): ServiceRecord | undefined {
    return this.#services.get(name);
  }
  services(): ReadonlyMap<string, ServiceRecord> {
    return this.#services;
  }
  lock(service: string): LockRecord | undefined {
    return this.#locks.get(service);
  }
  locks(): ReadonlyMap<string, LockRecord> {
    return this.#locks;
  }
  node(id: string): NodeRecord | undefined {
    return this.#nodes.get(id);
  }
  nodes(): ReadonlyMap<string, NodeRecord> {
    return this.#nodes;
  }
  commands(): readonly CommandRecord[] {
    return this.#commands;
  }
  /** The write applied with idempotency key `key`, while the state remembers it. */
  appliedWrite(key: string): AppliedWrite | undefined {
    return this.#writes.get(key);
  }
  command(id: string): CommandRecord | undefined {
    return this.#commandIndex.get(id);
  }

  /** Applies one Raft entry; `noop` and `config` entries only advance the applied index. */
  applyEntry(entry: AppliedEntry): ClusterApplyResult {
    this.#appliedIndex = Math.max(this.#appliedIndex, entry.index);
    if (entry.type !== 'normal') return { ok: true };
    const decoded = decode(ClusterCommand, entry.data, { where: `raft entry ${entry.index}` });
    if (!decoded.ok) {
      this.#invalidEntries += 1;
      return fail('COX_INVALID_COMMAND', decoded.error.message);
    }
    return this.#apply(decoded.value, entry.index);
  }

  /** Applies an already-parsed command at log index `index` (tests and the simulator). */
  apply(command: unknown, index: number): ClusterApplyResult {
    this.#appliedIndex = Math.max(this.#appliedIndex, index);
    const checked = validate(ClusterCommand, command, `command at index ${index}`);
    if (!checked.ok) {
      this.#invalidEntries += 1;
      return fail('COX_INVALID_COMMAND', checked.error.message);
    }
    return this.#apply(checked.value, index);
  }

  #apply(command: ClusterCommand, index: number): ClusterApplyResult {
    const result = this.#applyCommand(command, index);
    if (result.ok && 'key' in command && command.key !== undefined)
      this.#writes.record(command.key, index, command.type);
    return result;
  }

  #applyCommand(command: ClusterCommand, index: number): ClusterApplyResult {
    // The replicated clock only moves forward, whatever a (new) proposer believes.
    this.#clockMs = Math.max(this.#clockMs, command.at);
    const now = this.#clockMs;
    switch (command.type) {
      case 'service.put':
        return this.#putService(command, index, now);
      case 'service.delete': {
        const existing = this.#services.get(command.name);
        if (!existing)
          return fail('COX_NO_SUCH_SERVICE', `no service ${JSON.stringify(command.name)}`);
        this.#services.set(command.name, {
          ...existing,
          deleted: true,
          desiredReplicas: 0,
          manualReplicas: null,
          manualSeq: orderAfter(existing, index),
          updatedAtMs: now,
        });
        return { ok: true };
      }
      case 'service.purge': {
        const existing = this.#services.get(command.name);
        if (!existing)
          return fail('COX_NO_SUCH_SERVICE', `no service ${JSON.stringify(command.name)}`);
        const held = this.#checkLock(command.name, command.token);
        if (held) return held;
        if (!existing.deleted)
          return fail('COX_BAD_PLACEMENT', `service ${command.name} is not deleted`);
        this.#services.delete(command.name);
        this.#locks.delete(command.name);
        return { ok: true };
      }
      case 'lock.acquire':
        return this.#acquireLock(command, index, now);
      case 'lock.release': {
        const held = this.#checkLock(command.service, command.token);
        if (held) return held;
        this.#locks.delete(command.service);
        return { ok: true };
      }
      case 'scale.set':
        return this.#setScale(command, now);
      case 'command.record':
        return this.#recordCommands(command);
      case 'command.result':
        return this.#recordResults(command, now);
      case 'node.register': {
        const existing = this.#nodes.get(command.node.id);
        // A node that was dead (or new) changes state now; an alive one keeps its time.
        const changedAtMs = existing?.state === 'alive' ? existing.changedAtMs : now;
        this.#nodes.set(command.node.id, { ...command.node, state: 'alive', changedAtMs });
        return { ok: true };
      }
      case 'node.declare': {
        const existing = this.#nodes.get(command.nodeId);
        if (!existing) return fail('COX_NO_SUCH_NODE', `no node ${JSON.stringify(command.nodeId)}`);
        if (existing.state !== command.state) {
          this.#nodes.set(command.nodeId, { ...existing, state: command.state, changedAtMs: now });
        }
        // An operator's removal says the node will not come back with anything to clean up.
        if (command.state === 'removed')
          for (const name of [...this.#services.keys()]) this.#unstrand(name, command.nodeId);
        return { ok: true };
      }
      case 'settings.set': {
        const next = { ...this.#settings };
        for (const [key, value] of Object.entries(command.settings)) {
          if (value !== undefined) (next as Record<string, number>)[key] = value;
        }
        this.#settings = next;
        this.#trimCommandLog();
        return { ok: true };
      }
    }
  }

  #putService(
    command: Extract<ClusterCommand, { type: 'service.put' }>,
    index: number,
    now: number,
  ): ClusterApplyResult {
    const spec = command.spec;
    const existing = this.#services.get(spec.name);
    if (existing && !existing.deleted && sameJson(existing.spec, spec)) {
      return { ok: true, specVersion: existing.specVersion };
    }
    const specVersion = (existing?.specVersion ?? 0) + 1;
    this.#services.set(spec.name, {
      spec,
      specVersion,
      // A re-applied spec returns the service to its policy, starting from what runs now.
      desiredReplicas: clamp(
        existing && !existing.deleted ? existing.desiredReplicas : spec.minReplicas,
        spec,
      ),
      manualReplicas: null,
      // An override accepted before this spec cannot come back after it.
      manualSeq: orderAfter(existing, index),
      placement: existing?.placement ?? {},
      placementToken: existing?.placementToken ?? 0,
      ...(existing?.strandedOn ? { strandedOn: existing.strandedOn } : {}),
      deleted: false,
      updatedAtMs: now,
    });
    return { ok: true, specVersion };
  }

  #acquireLock(
    command: Extract<ClusterCommand, { type: 'lock.acquire' }>,
    index: number,
    now: number,
  ): ClusterApplyResult {
    if (!this.#services.has(command.service)) {
      return fail('COX_NO_SUCH_SERVICE', `no service ${JSON.stringify(command.service)}`);
    }
    const current = this.#locks.get(command.service);
    // A live lock is never shared, not even with its own holder: one operation per service.
    // A lock of an earlier term is taken over at once (lockBlocks says why that is safe).
    if (current && lockBlocks(current, now, command.term)) {
      return fail(
        'COX_LOCK_HELD',
        `service ${command.service} is locked by ${current.holder} (token ${current.token})`,
        current,
      );
    }
    const lock: LockRecord = {
      service: command.service,
      holder: command.holder,
      term: command.term,
      token: index,
      acquiredAtMs: now,
      leaseMs: command.leaseMs,
    };
    this.#locks.set(command.service, lock);
    // Whatever the previous holder left issued can no longer finish: agents refuse its token now.
    for (const record of this.#commands) {
      if (
        record.service === command.service &&
        record.status === 'issued' &&
        record.token < index
      ) {
        this.#replaceRecord({ ...record, status: 'abandoned', finishedAtMs: now });
      }
    }
    return { ok: true, token: index };
  }

  #setScale(
    command: Extract<ClusterCommand, { type: 'scale.set' }>,
    now: number,
  ): ClusterApplyResult {
    const service = this.#services.get(command.service);
    if (!service)
      return fail('COX_NO_SUCH_SERVICE', `no service ${JSON.stringify(command.service)}`);
    const held = this.#checkLock(command.service, command.token);
    if (held) return held;
    if (
      command.manualReplicas !== undefined &&
      command.manualSeq !== undefined &&
      service.manualSeq !== undefined &&
      command.manualSeq < service.manualSeq
    ) {
      return fail(
        'COX_SUPERSEDED',
        `a newer write (order ${service.manualSeq}) replaced the manual count of ${command.service}; this one (order ${command.manualSeq}) is not applied`,
      );
    }
    let total = 0;
    for (const [nodeId, count] of Object.entries(command.placement)) {
      if (count > 0 && !this.#nodes.has(nodeId)) {
        return fail('COX_NO_SUCH_NODE', `placement names unknown node ${JSON.stringify(nodeId)}`);
      }
      total += count;
    }
    if (total > command.desiredReplicas) {
      return fail(
        'COX_BAD_PLACEMENT',
        `placement holds ${total} replicas, more than the ${command.desiredReplicas} desired`,
      );
    }
    const placement: Placement = {};
    for (const [nodeId, count] of Object.entries(command.placement))
      if (count > 0) placement[nodeId] = count;
    const strandedOn = this.#strandedAfter(service, placement);
    const standbyPlacement: Placement = {};
    for (const [nodeId, count] of Object.entries(command.standbyPlacement ?? {}))
      if (count > 0 && this.#nodes.has(nodeId)) standbyPlacement[nodeId] = count;
    const { standbyPlacement: _previous, ...rest } = withoutStranded(service);
    this.#services.set(command.service, {
      ...rest,
      ...(Object.keys(standbyPlacement).length > 0 ? { standbyPlacement } : {}),
      ...(strandedOn.length > 0 ? { strandedOn } : {}),
      desiredReplicas: command.desiredReplicas,
      manualReplicas:
        command.manualReplicas === undefined ? service.manualReplicas : command.manualReplicas,
      ...(command.manualReplicas !== undefined && command.manualSeq !== undefined
        ? { manualSeq: command.manualSeq }
        : {}),
      placement,
      placementToken: command.token,
      reason: command.reason,
      updatedAtMs: now,
    });
    return { ok: true };
  }

  /**
   * The service's stranded nodes after its placement becomes `placement`: a dead node whose
   * replicas are taken away may still run them (cut off, not crashed), so it is remembered
   * until a command to it for the service is done (a host that returns is cleaned up).
   */
  #strandedAfter(service: ServiceRecord, placement: Placement): string[] {
    const stranded = new Set(service.strandedOn ?? []);
    for (const [nodeId, count] of Object.entries(service.placement)) {
      if (count > (placement[nodeId] ?? 0) && this.#nodes.get(nodeId)?.state === 'dead')
        stranded.add(nodeId);
    }
    return [...stranded].sort();
  }

  /** Forgets `nodeId` as stranded for `service` (a command to it was done, or it was removed). */
  #unstrand(service: string, nodeId: string): void {
    const record = this.#services.get(service);
    if (!record?.strandedOn?.includes(nodeId)) return;
    const rest = record.strandedOn.filter((id) => id !== nodeId);
    this.#services.set(service, {
      ...withoutStranded(record),
      ...(rest.length > 0 ? { strandedOn: rest } : {}),
    });
  }

  /** A command that started replicas took `durationMs` from create to ready: the lead time's sample. */
  #recordStartDuration(service: string, durationMs: number): void {
    const record = this.#services.get(service);
    if (!record) return;
    const kept = [...(record.startDurationsMs ?? []), durationMs].slice(-START_DURATIONS_KEPT);
    this.#services.set(service, { ...record, startDurationsMs: kept });
  }

  #recordCommands(
    command: Extract<ClusterCommand, { type: 'command.record' }>,
  ): ClusterApplyResult {
    for (const record of command.records) {
      const held = this.#checkLock(record.service, command.token);
      if (held) return held;
      if (record.token !== command.token) {
        return fail(
          'COX_LOCK_NOT_HELD',
          `record ${record.id} carries token ${record.token}, not ${command.token}`,
        );
      }
    }
    for (const record of command.records) {
      if (this.#commandIndex.has(record.id)) this.#replaceRecord(record);
      else {
        this.#commands.push(record);
        this.#commandIndex.set(record.id, record);
      }
    }
    this.#trimCommandLog();
    return { ok: true };
  }

  #recordResults(
    command: Extract<ClusterCommand, { type: 'command.result' }>,
    now: number,
  ): ClusterApplyResult {
    for (const result of command.results) {
      const record = this.#commandIndex.get(result.id);
      // Results of an abandoned operation stay abandoned: a later lock already superseded it.
      if (!record || record.token !== command.token || record.status === 'abandoned') continue;
      if (result.status === 'done') {
        this.#unstrand(record.service, record.nodeId);
        if ((result.started ?? 0) > 0 && result.durationMs !== undefined)
          this.#recordStartDuration(record.service, result.durationMs);
      }
      this.#replaceRecord({
        ...record,
        status: result.status,
        finishedAtMs: now,
        ...(result.running !== undefined ? { running: result.running } : {}),
        ...(result.error !== undefined ? { error: result.error } : {}),
        ...(result.finishedAtEpochMs !== undefined
          ? { finishedAtEpochMs: result.finishedAtEpochMs }
          : {}),
      });
    }
    return { ok: true };
  }

  /** Fencing inside the state machine too: only the current lock's token may write under it. */
  #checkLock(service: string, token: number): ClusterApplyResult | undefined {
    const lock = this.#locks.get(service);
    if (!lock || lock.token !== token) {
      return fail(
        'COX_LOCK_NOT_HELD',
        `token ${token} does not hold the lock of ${service}${lock ? ` (held with token ${lock.token})` : ''}`,
        lock,
      );
    }
    return undefined;
  }

  #replaceRecord(record: CommandRecord): void {
    const at = this.#commands.findIndex((r) => r.id === record.id);
    if (at >= 0) this.#commands[at] = record;
    this.#commandIndex.set(record.id, record);
  }

  #trimCommandLog(): void {
    const excess = this.#commands.length - this.#settings.commandLogLimit;
    if (excess <= 0) return;
    for (const dropped of this.#commands.splice(0, excess)) this.#commandIndex.delete(dropped.id);
  }

  toSnapshot(): ClusterStateSnapshot {
    return {
      v: PROTOCOL_VERSION,
      clockMs: this.#clockMs,
      appliedIndex: this.#appliedIndex,
      services: Object.fromEntries(this.#services),
      locks: Object.fromEntries(this.#locks),
      commands: [...this.#commands],
      nodes: Object.fromEntries(this.#nodes),
      settings: this.#settings,
      writes: this.#writes.toArray(),
    };
  }

  snapshot(): Uint8Array {
    return encoder.encode(JSON.stringify(this.toSnapshot()));
  }

  /** Replaces the whole state with a snapshot; throws when the bytes are not a valid snapshot (Raft then refuses it). */
  restore(data: Uint8Array): void {
    const decoded = decode(ClusterStateSnapshot, data, {
      where: 'cluster state snapshot',
      maxBytes: 256 * 1024 * 1024,
    });
    if (!decoded.ok) throw decoded.error;
    this.#load(decoded.value);
  }

  #load(s: ClusterStateSnapshot): void {
    this.#clockMs = s.clockMs;
    this.#appliedIndex = s.appliedIndex;
    this.#services = new Map(Object.entries(s.services));
    this.#locks = new Map(Object.entries(s.locks));
    this.#commands = [...s.commands];
    this.#commandIndex = new Map(s.commands.map((r) => [r.id, r]));
    this.#nodes = new Map(Object.entries(s.nodes));
    this.#settings = s.settings;
    this.#writes.load(s.writes);
  }
}
