// The crash campaign of issue #12: CRASH_KILLS (default 100) SIGKILLs of a Raft voter during
// writes (leader and follower alternately, each restarted and read back linearizably), and as
// many of a process writing the agent's fencing and assignment stores. Lost must be 0 and no
// term, commit index or token may go backwards. The short form is test/crash-campaign.test.ts.
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { NatsServer, raftCrashCampaign, storeCrashCampaign } from '@coxswain/testkit';
import { percentile, recordResult } from './lib/results.js';

const KILLS = Number(process.env.CRASH_KILLS ?? 100);

export async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'cox-crash-campaign-'));
  const loadBefore = loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  const log = (line: string) => console.log(line);
  try {
    const ns = await NatsServer.start();
    let raft: Awaited<ReturnType<typeof raftCrashCampaign>>;
    try {
      raft = await raftCrashCampaign({ natsUrl: ns.url, baseDir: dir, kills: KILLS, log });
    } finally {
      await ns.stop();
    }
    const stores = await storeCrashCampaign({ baseDir: dir, kills: KILLS, log });
    const loadAfter = loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
    const restart = raft.rounds.map((r) => r.restartMs);
    recordResult({
      benchmark: 'crash-campaign',
      title: 'crash-campaign',
      figures: [
        {
          name: 'Raft voter SIGKILLs during writes',
          value: raft.kills,
          unit: 'kills',
          target: '100',
        },
        { name: 'Raft restarts serving again', value: raft.restarts, unit: 'restarts' },
        { name: 'Raft writes acknowledged', value: raft.ackedWrites, unit: 'writes' },
        { name: 'Raft acknowledged writes lost', value: raft.lost, unit: 'writes', target: '0' },
        {
          name: 'term or commit index went backwards',
          value: raft.wentBackwards,
          unit: 'times',
          target: '0',
        },
        {
          name: 'kill to restarted voter serving',
          value: percentile(restart, 50),
          unit: 'ms',
          p50: percentile(restart, 50),
          p99: percentile(restart, 99),
          samples: restart.length,
        },
        {
          name: 'store writer SIGKILLs (fencing + assignment)',
          value: stores.kills,
          unit: 'kills',
          target: '100',
        },
        {
          name: 'tokens acknowledged (both stores fsynced)',
          value: stores.ackedWrites,
          unit: 'tokens',
        },
        { name: 'acknowledged tokens lost', value: stores.lost, unit: 'tokens', target: '0' },
        {
          name: 'stored token went backwards',
          value: stores.wentBackwards,
          unit: 'times',
          target: '0',
        },
        { name: 'campaign time', value: (raft.durationMs + stores.durationMs) / 1000, unit: 's' },
      ],
      notes: [
        `Raft: three kv-node voters (raft-consensus-ts, FileStorage with fsync) as OS processes over one nats-server, eight writers putting keys; each round waits for 20 new acknowledgements, kills a voter at a random moment up to 50 ms later (the leader on even rounds, a follower on odd ones), waits for 5 acknowledgements without it, restarts it and reads its whole state back through it (a linearizable read): every write acknowledged by then must be there. "Back serving" includes the process start under tsx.`,
        `Stores: a process admits ever higher fencing tokens for one service and stores the matching assignment, printing each token only after both fsyncs returned; it is killed at a random moment up to 300 ms after its first write, both stores are reopened from disk (a torn file would fail to open), and the stored token must be at least the last printed and the writer must resume at or above it.`,
        `Load average before ${loadBefore}, after ${loadAfter} (a 2-core machine shared with other engineers' labs).`,
      ].join('\n\n'),
      samples: { raft: raft.rounds, stores: stores.rounds },
    });
    console.log(
      `crash campaign: raft ${raft.kills} kills, ${raft.ackedWrites} acked, ${raft.lost} lost; stores ${stores.kills} kills, ${stores.ackedWrites} acked, ${stores.lost} lost`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
