/**
 * One Raft member in its own OS process, for the real-process test and the Raft
 * benchmarks: FileStorage in `dataDir`, NatsTransport on `raftPrefix`, and a tiny
 * key-value state machine served over NATS request/reply on `${clientPrefix}.${id}`.
 *
 * Started as: node --conditions=@coxswain/source --import tsx kv-node.ts '<json args>'
 * Prints one JSON line {"ready":true,...} on stdout once it serves requests.
 */
import { connect, type Msg } from 'nats';
import {
  type Entry,
  FileStorage,
  NotLeaderError,
  RaftError,
  RaftNode,
  type Snapshot,
  type StateMachine,
} from 'raft-consensus-ts';
import { NatsTransport } from 'raft-consensus-ts/nats';
import { z } from 'zod';

const Args = z.object({
  id: z.string().min(1),
  peers: z.array(z.string().min(1)).min(1),
  natsUrl: z.string().min(1),
  raftPrefix: z.string().min(1),
  clientPrefix: z.string().min(1),
  dataDir: z.string().min(1),
  tickMs: z.number().int().positive().optional(),
  electionTicks: z.number().int().positive().optional(),
  snapshotEvery: z.number().int().nonnegative().optional(),
});

const Request = z.discriminatedUnion('op', [
  z.object({ op: z.literal('put'), key: z.string(), value: z.string() }),
  // Each item becomes its own Raft entry, proposed concurrently: one client hop for many proposals.
  z.object({
    op: z.literal('putMany'),
    items: z.array(z.tuple([z.string(), z.string()])).max(10_000),
  }),
  z.object({
    op: z.literal('dump'),
    linearizable: z.boolean().default(true),
    // A page of the entries (in insertion order, which only appends): a whole state past ~50k
    // keys would not fit in one NATS message.
    offset: z.number().int().nonnegative().optional(),
    limit: z.number().int().positive().optional(),
  }),
  z.object({ op: z.literal('status') }),
]);

const parsedArgs = Args.safeParse(JSON.parse(process.argv[2] ?? '{}'));
if (!parsedArgs.success) {
  console.error(`kv-node: bad arguments: ${parsedArgs.error.message}`);
  process.exit(2);
}
const args = parsedArgs.data;
const enc = new TextEncoder();
const dec = new TextDecoder();

class KvMachine implements StateMachine {
  map = new Map<string, string>();
  apply(entry: Entry): unknown {
    const text = dec.decode(entry.data);
    const sep = text.indexOf('\0');
    if (sep < 0) return null;
    this.map.set(text.slice(0, sep), text.slice(sep + 1));
    return null;
  }
  snapshot(): Uint8Array {
    return enc.encode(JSON.stringify([...this.map]));
  }
  restore(snapshot: Snapshot): void {
    this.map = new Map(JSON.parse(dec.decode(snapshot.data)) as [string, string][]);
  }
}

let invalidRequests = 0;
const nc = await connect({
  servers: args.natsUrl,
  name: `kv-node-${args.id}`,
  maxReconnectAttempts: -1,
});
const transport = new NatsTransport({
  connection: nc,
  nodeId: args.id,
  subjectPrefix: args.raftPrefix,
});
const sm = new KvMachine();
const node = await RaftNode.start({
  id: args.id,
  storage: new FileStorage({ dir: args.dataDir }),
  transport,
  stateMachine: sm,
  bootstrap: { voters: args.peers, learners: [] },
  ...(args.tickMs ? { tickMs: args.tickMs } : {}),
  ...(args.electionTicks ? { config: { electionTicks: args.electionTicks } } : {}),
  ...(args.snapshotEvery !== undefined ? { snapshotEvery: args.snapshotEvery } : {}),
  onError: (e) => console.error(`kv-node ${args.id}:`, e),
});

const errorReply = (err: unknown) =>
  err instanceof NotLeaderError
    ? { ok: false, code: err.code, leader: err.leaderId }
    : { ok: false, code: err instanceof RaftError ? err.code : 'ERROR', message: String(err) };

async function handle(msg: Msg): Promise<unknown> {
  let body: unknown;
  try {
    body = JSON.parse(dec.decode(msg.data));
  } catch {
    body = undefined;
  }
  const req = Request.safeParse(body);
  if (!req.success) {
    invalidRequests++;
    return {
      ok: false,
      code: 'BAD_REQUEST',
      message: `request on ${msg.subject}: ${req.error.message}`,
    };
  }
  const r = req.data;
  switch (r.op) {
    case 'put': {
      const res = await node.propose(enc.encode(`${r.key}\0${r.value}`));
      return { ok: true, index: res.index, term: res.term };
    }
    case 'putMany': {
      const res = await Promise.all(
        r.items.map(([k, v]) => node.propose(enc.encode(`${k}\0${v}`))),
      );
      return { ok: true, indexes: res.map((x) => x.index) };
    }
    case 'dump': {
      if (r.linearizable) await node.readIndex();
      const all = [...sm.map];
      const offset = r.offset ?? 0;
      return {
        ok: true,
        applied: node.status().appliedIndex,
        total: all.length,
        entries: r.limit === undefined ? all.slice(offset) : all.slice(offset, offset + r.limit),
      };
    }
    case 'status':
      return { ok: true, status: node.status(), transport: transport.stats, invalidRequests };
  }
}

const sub = nc.subscribe(`${args.clientPrefix}.${args.id}`, {
  callback: (err, msg) => {
    if (err) return;
    handle(msg).then(
      (reply) => msg.respond(enc.encode(JSON.stringify(reply))),
      (e: unknown) => msg.respond(enc.encode(JSON.stringify(errorReply(e)))),
    );
  },
});

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  sub.unsubscribe();
  await node.stop();
  await nc.drain();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());

await nc.flush();
process.stdout.write(
  `${JSON.stringify({ ready: true, id: args.id, pid: process.pid, applied: node.status().appliedIndex })}\n`,
);
