/**
 * A linearizability checker in the Wing & Gong / Lowe style (as in Knossos and
 * Porcupine): depth-first search over the order in which operations take
 * effect, linearizing only operations whose invocation precedes every pending
 * return ("just-in-time"), with a memo of (set of linearized ops, model state)
 * already explored so equivalent interleavings are visited once. Histories are
 * split per key first (P-compositionality): a history is linearizable iff each
 * key's sub-history is.
 */

/** One completed or indeterminate operation. `ret` is Infinity when the caller never learned the result. */
export interface Operation<I, O> {
  readonly call: number;
  readonly ret: number;
  readonly input: I;
  /** undefined when the result is unknown (ret === Infinity, or a timed-out call). */
  readonly output: O | undefined;
  readonly client?: number;
}

export interface Model<S, I, O> {
  init(): S;
  /** Applies `input` to `state`; ok is false when `output` could not have been produced from `state`. */
  step(state: S, input: I, output: O | undefined): { ok: boolean; state: S };
  /** A string identifying the state, for the memo. */
  hash(state: S): string;
  /** Independent parts of the history (P-compositionality); default: one part. */
  partition?(history: readonly Operation<I, O>[]): Operation<I, O>[][];
}

export type CheckResult =
  | { readonly result: 'ok'; readonly explored: number }
  | {
      readonly result: 'illegal';
      readonly partition: number;
      readonly operations: number;
      readonly explored: number;
    }
  | { readonly result: 'unknown'; readonly reason: string; readonly explored: number };

interface Node<I, O> {
  op: Operation<I, O> | null;
  id: number;
  isCall: boolean;
  match: Node<I, O> | null;
  prev: Node<I, O> | null;
  next: Node<I, O> | null;
}

/** Checks `history` against `model`. `maxExplored` bounds the search; beyond it the answer is 'unknown'. */
export function checkLinearizable<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  options: { maxExplored?: number } = {},
): CheckResult {
  const parts = model.partition ? model.partition(history) : [[...history]];
  const budget = options.maxExplored ?? 2_000_000;
  let explored = 0;
  for (let p = 0; p < parts.length; p++) {
    const part = parts[p] as Operation<I, O>[];
    const r = checkPart(model, part, budget - explored);
    explored += r.explored;
    if (r.result === 'illegal')
      return { result: 'illegal', partition: p, operations: part.length, explored };
    if (r.result === 'unknown')
      return { result: 'unknown', reason: `search budget exhausted in partition ${p}`, explored };
  }
  return { result: 'ok', explored };
}

function checkPart<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  budget: number,
): { result: 'ok' | 'illegal' | 'unknown'; explored: number } {
  if (ops.length === 0) return { result: 'ok', explored: 0 };
  // Events in time order; at equal times calls come first, treating touching
  // operations as concurrent (the permissive reading).
  const events: { time: number; isCall: boolean; id: number }[] = [];
  ops.forEach((op, id) => {
    events.push({ time: op.call, isCall: true, id });
    events.push({ time: op.ret, isCall: false, id });
  });
  events.sort(
    (a, b) => a.time - b.time || (a.isCall === b.isCall ? a.id - b.id : a.isCall ? -1 : 1),
  );

  const head: Node<I, O> = { op: null, id: -1, isCall: false, match: null, prev: null, next: null };
  let tail = head;
  const calls = new Map<number, Node<I, O>>();
  for (const e of events) {
    const node: Node<I, O> = {
      op: ops[e.id] as Operation<I, O>,
      id: e.id,
      isCall: e.isCall,
      match: null,
      prev: tail,
      next: null,
    };
    if (e.isCall) calls.set(e.id, node);
    else {
      const call = calls.get(e.id) as Node<I, O>;
      call.match = node;
      node.match = call;
    }
    tail.next = node;
    tail = node;
  }

  const lift = (call: Node<I, O>): void => {
    (call.prev as Node<I, O>).next = call.next;
    if (call.next) call.next.prev = call.prev;
    const ret = call.match as Node<I, O>;
    (ret.prev as Node<I, O>).next = ret.next;
    if (ret.next) ret.next.prev = ret.prev;
  };
  const unlift = (call: Node<I, O>): void => {
    const ret = call.match as Node<I, O>;
    (ret.prev as Node<I, O>).next = ret;
    if (ret.next) ret.next.prev = ret;
    (call.prev as Node<I, O>).next = call;
    if (call.next) call.next.prev = call;
  };

  const words = new Uint32Array(Math.ceil(ops.length / 32));
  const memo = new Set<string>();
  const stack: { call: Node<I, O>; state: S }[] = [];
  let state = model.init();
  let entry = head.next;
  let explored = 0;
  while (head.next !== null) {
    if (++explored > budget) return { result: 'unknown', explored };
    const current = entry as Node<I, O>;
    if (current.isCall) {
      const op = current.op as Operation<I, O>;
      const r = model.step(state, op.input, op.output);
      let advanced = false;
      if (r.ok) {
        words[current.id >> 5] = (words[current.id >> 5] as number) | (1 << (current.id & 31));
        const key = `${words.join(',')}|${model.hash(r.state)}`;
        if (!memo.has(key)) {
          memo.add(key);
          stack.push({ call: current, state });
          state = r.state;
          lift(current);
          entry = head.next;
          advanced = true;
        } else {
          words[current.id >> 5] = (words[current.id >> 5] as number) & ~(1 << (current.id & 31));
        }
      }
      if (!advanced) entry = current.next;
    } else {
      // A return whose call we could not linearize before it: backtrack.
      const top = stack.pop();
      if (top === undefined) return { result: 'illegal', explored };
      state = top.state;
      words[top.call.id >> 5] = (words[top.call.id >> 5] as number) & ~(1 << (top.call.id & 31));
      unlift(top.call);
      entry = top.call.next;
    }
  }
  return { result: 'ok', explored };
}

// ---------------------------------------------------------------- models

export type RegisterInput =
  | { readonly key: string; readonly kind: 'write'; readonly value: string }
  | { readonly key: string; readonly kind: 'read' };
/** Output of a read: the value seen (null if never written); writes output null. */
export type RegisterOutput = string | null;

/** A map of independent registers, each starting at null; partitioned by key. */
export const registerModel: Model<string | null, RegisterInput, RegisterOutput> = {
  init: () => null,
  step(state, input, output) {
    if (input.kind === 'write') return { ok: true, state: input.value };
    // A read whose result is unknown constrains nothing.
    return { ok: output === undefined || output === state, state };
  },
  hash: (state) => (state === null ? '\u0000' : state),
  partition: (history) => partitionBy(history, (op) => op.input.key),
};

export type LockInput = {
  readonly lock: string;
  readonly kind: 'acquire' | 'release';
  readonly owner: string;
};
/** Whether the acquire/release succeeded. */
export type LockOutput = boolean;

/** A table of locks: acquire succeeds iff free; release succeeds iff held by the caller. Partitioned by lock. */
export const lockTableModel: Model<string | null, LockInput, LockOutput> = {
  init: () => null,
  step(holder, input, output) {
    const succeeds = input.kind === 'acquire' ? holder === null : holder === input.owner;
    const next = succeeds ? (input.kind === 'acquire' ? input.owner : null) : holder;
    if (output === undefined) return { ok: true, state: next };
    return { ok: output === succeeds, state: next };
  },
  hash: (holder) => (holder === null ? '\u0000' : holder),
  partition: (history) => partitionBy(history, (op) => op.input.lock),
};

function partitionBy<I, O>(
  history: readonly Operation<I, O>[],
  key: (op: Operation<I, O>) => string,
): Operation<I, O>[][] {
  const parts = new Map<string, Operation<I, O>[]>();
  for (const op of history) {
    const k = key(op);
    let part = parts.get(k);
    if (part === undefined) {
      part = [];
      parts.set(k, part);
    }
    part.push(op);
  }
  return [...parts.values()];
}
