import {
  AgentOperationsReply,
  CommandsReply,
  PROTOCOL_VERSION,
  ServiceSpec,
  ServicesReply,
} from '@coxswain/protocol';
import {
  API_TOKEN,
  NatsServer,
  ProcCluster,
  type ProcHost,
  serviceSpec,
  waitFor,
} from '@coxswain/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Issue 16, items 3, 4 and 5, on agents that are real OS processes with their
// own dockerd each (nodeDeadAfter 1.5 s, lock lease 4 s, command timeout 2 s):
// - never more than maxReplicas: a manual scale above it is refused, and a host
//   killed and restarted does not restore its old assignment before a leader
//   confirms it (sampled every 100 ms);
// - a command to an agent SIGSTOPped with it in flight is recorded abandoned
//   once the agent is declared dead (not held for its TTL), and the agent,
//   SIGCONTed after the TTL, refuses it; no command recorded failed runs later;
// - /v1/services stops counting a killed host's replicas as running within
//   nodeDeadAfter, and lists them under `unknown`.
const MAX = 6;
const DEAD_AFTER_MS = 1500;
/** ProcCluster's command timeout: a command's TTL plus the skew margin. */
const COMMAND_TIMEOUT_MS = 2000;

interface OpLine {
  readonly msg?: string;
  readonly id?: string;
  readonly outcome?: string;
  readonly code?: string;
  readonly startedAtEpochMs?: number;
}

function opLines(host: ProcHost): OpLine[] {
  return host.lines
    .filter((l) => l.includes('"msg":"operation"'))
    .map((l) => JSON.parse(l) as OpLine);
}

function apiPort(host: ProcHost): number {
  const started = host.lines.filter((l) => l.includes('"agent started"')).at(-1);
  if (!started) throw new Error(`${host.id}: no "agent started" line`);
  return Number((JSON.parse(started) as { apiPort: number }).apiPort);
}

describe('promises: replicas, commands and counts', () => {
  let nats: NatsServer;
  let cluster: ProcCluster;

  beforeAll(async () => {
    nats = await NatsServer.start();
    cluster = await ProcCluster.start(nats);
    await waitFor('a leader', () => cluster.leaderId(), 20_000);
    const applied = await cluster.api({
      v: PROTOCOL_VERSION,
      op: 'service.apply',
      token: API_TOKEN,
      spec: ServiceSpec.parse(serviceSpec('web', { minReplicas: 3, maxReplicas: MAX })),
    });
    expect(applied.ok).toBe(true);
    await waitFor('3 running', async () => ((await cluster.total('web')) === 3 ? true : undefined));
  }, 180_000);

  afterAll(async () => {
    await cluster?.stop();
    await nats?.stop();
  }, 120_000);

  it('refuses a manual scale above maxReplicas, naming the limit', async () => {
    const reply = await cluster.api({
      v: PROTOCOL_VERSION,
      op: 'service.scale',
      token: API_TOKEN,
      name: 'web',
      replicas: 12,
    });
    // Over NATS, the leader's own refusal: a client error with its stable code (was COX_INTERNAL).
    expect(reply).toMatchObject({ ok: false, code: 'COX_INVALID_PAYLOAD' });
    expect(JSON.stringify(reply)).toMatch(/maxReplicas \(6\)/);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await cluster.total('web')).toBeLessThanOrEqual(MAX);
    expect((await cluster.state()).services.web?.manualReplicas).toBeNull();
  });

  it('a command to an agent frozen past nodeDeadAfter is abandoned at its death, and refused once expired', async () => {
    const leader = cluster.leaderId()!;
    const victim = [...cluster.hosts.values()].find((h) => h.id !== leader)!;
    const stoppedAt = Date.now();
    victim.child!.kill('SIGSTOP');
    let failedId: string | undefined;
    try {
      // The leader still sees the victim alive (< nodeDeadAfter), so the scale-up places 2 there.
      // Through the leader's HTTP API: a NATS API request could be queued to the frozen agent.
      const leaderUrl = `http://127.0.0.1:${apiPort(cluster.hosts.get(leader)!)}`;
      const scaling = fetch(`${leaderUrl}/v1/services/web/scale`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ replicas: MAX }),
      }).catch((e: unknown) => e);
      // Frozen past nodeDeadAfter, the victim is declared dead and the leader stops waiting for it:
      // the command may have arrived, so it is recorded abandoned (outcome unknown), not failed.
      const ended = await waitFor(
        'the leader gives up on the frozen agent’s command',
        async () => {
          // From the leader's HTTP API: a NATS API request could be queued to the frozen agent.
          const url = `${leaderUrl}/v1/commands?service=web`;
          const reply = CommandsReply.parse(await (await fetch(url)).json());
          // One sent while it was frozen: on a loaded machine an earlier command of the leader's
          // own can also end failed (done, but its reply came after the TTL) before the freeze.
          return reply.commands.find(
            (c) =>
              c.nodeId === victim.id &&
              (c.issuedAtEpochMs ?? 0) >= stoppedAt &&
              (c.status === 'abandoned' || c.status === 'failed'),
          );
        },
        20_000,
      );
      expect(ended.status).toBe('abandoned');
      const failed = ended;
      // Resume only once the command's TTL and the skew margin (the command timeout) have passed:
      // from then on the agent must refuse it, whatever the leader recorded.
      await new Promise((r) =>
        setTimeout(
          r,
          Math.max(0, (failed.issuedAtEpochMs ?? 0) + COMMAND_TIMEOUT_MS + 500 - Date.now()),
        ),
      );
      failedId = failed.id;
      await scaling;
    } finally {
      victim.child!.kill('SIGCONT');
    }
    // The command sat in the frozen agent's socket; awake, the agent must refuse it, not run it.
    await waitFor(
      'the awake agent handles the stale command',
      () => (opLines(victim).some((o) => o.id === failedId) ? true : undefined),
      10_000,
    );
    await new Promise((r) => setTimeout(r, 2000));
    const ran = opLines(victim).filter((o) => o.id === failedId && o.outcome === 'done');
    expect(ran).toEqual([]);
    // No command of the victim's that the leader recorded failed started work after that record.
    const leaderApi = `http://127.0.0.1:${apiPort(cluster.hosts.get(leader)!)}`;
    const allFailed = CommandsReply.parse(
      await (await fetch(`${leaderApi}/v1/commands?service=web&status=failed`)).json(),
    ).commands.filter((c) => c.nodeId === victim.id);
    for (const c of allFailed)
      for (const o of opLines(victim).filter((l) => l.id === c.id && l.outcome === 'done'))
        expect(o.startedAtEpochMs).toBeLessThan(c.finishedAtEpochMs ?? 0);
    const seen = opLines(victim).filter((o) => o.id === failedId);
    // Delivered after the resume (NATS kept it in the socket) and refused, not silently lost.
    expect(seen.length).toBeGreaterThan(0);
    // The agent's own audit route says the same: that token refused for web, never accepted.
    const audit = AgentOperationsReply.parse(
      await (await fetch(`http://127.0.0.1:${apiPort(victim)}/v1/agent/operations`)).json(),
    );
    const failedToken = Number(failedId?.split('.')[1]);
    expect(audit.node).toBe(victim.id);
    expect(audit.tokens.web?.refused).toContain(failedToken);
    expect(audit.tokens.web?.accepted ?? []).not.toContain(failedToken);
    for (const o of seen)
      expect(o).toMatchObject({ outcome: 'refused', code: 'COX_COMMAND_EXPIRED' });
    await waitFor(
      `${MAX} running again`,
      async () => ((await cluster.total('web')) === MAX ? true : undefined),
      30_000,
    );
  });

  it('stops counting a killed host as running within nodeDeadAfter; a restart never exceeds max', async () => {
    await cluster
      .api({
        v: PROTOCOL_VERSION,
        op: 'service.scale',
        token: API_TOKEN,
        name: 'web',
        replicas: MAX,
      })
      .catch(() => undefined);
    const leaderId = cluster.leaderId()!;
    const leader = cluster.hosts.get(leaderId)!;
    const placed = await waitFor(
      `${MAX} running, some on a follower`,
      async () => {
        const r = await cluster.running('web');
        const total = Object.values(r).reduce((a, b) => a + b, 0);
        const follower = [...cluster.hosts.values()].find(
          (h) => h.id !== leaderId && (r[h.id] ?? 0) > 0,
        );
        return total === MAX && follower ? { follower, n: r[follower.id]! } : undefined;
      },
      30_000,
    );
    const victim = placed.follower;
    const url = `http://127.0.0.1:${apiPort(leader)}/v1/services`;
    const services = async (): Promise<ServicesReply> => {
      const res = await fetch(url);
      return ServicesReply.parse(await res.json());
    };
    expect((await services()).services.find((s) => s.name === 'web')?.running[victim.id]).toBe(
      placed.n,
    );

    // Sample the containers on every engine every 100 ms from here to the end.
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await cluster.total('web'));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      const killedAt = performance.now();
      cluster.killAgent(victim.id);
      await victim.dockerd.kill();
      const excluded = await waitFor(
        'the dead host out of running, in unknown',
        async () => {
          const web = (await services()).services.find((s) => s.name === 'web');
          return web && web.running[victim.id] === undefined ? web : undefined;
        },
        10_000,
      );
      const tookMs = performance.now() - killedAt;
      // nodeDeadAfter, plus one report interval (250 ms) and the 100 ms-ish polling.
      expect(tookMs).toBeLessThan(DEAD_AFTER_MS + 1000);
      expect(excluded.unknown?.[victim.id]).toBe(placed.n);

      await waitFor(
        `${MAX} running on the two live hosts`,
        async () => ((await cluster.total('web')) === MAX ? true : undefined),
        30_000,
      );
      // Absent far longer than nodeDeadAfter: on return it must not restart its old replicas by itself.
      await victim.dockerd.restart();
      await cluster.startAgent(victim.id);
      await waitFor(
        'the returned host registered alive',
        async () =>
          (await cluster.state()).nodes[victim.id]?.state === 'alive' ? true : undefined,
        20_000,
      );
      await new Promise((r) => setTimeout(r, 4000));
    } finally {
      sampling = false;
      await sampler;
    }
    expect(peak).toBeLessThanOrEqual(MAX);
    expect(await cluster.total('web')).toBe(MAX);
    expect(
      victim.lines.some((l) => l.includes('holding assignments until a leader confirms')),
    ).toBe(true);
  });
});
