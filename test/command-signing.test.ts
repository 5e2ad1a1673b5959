import { type ChildProcess, spawn } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  decode,
  encode,
  generateSigningKeyPair,
  PROTOCOL_VERSION,
  ScaleCommand,
  ScaleReply,
  ServiceSpec,
  signCommand,
  subjects,
} from '@coxswain/protocol';
import { API_TOKEN, NatsServer, ProcCluster, serviceSpec, waitFor } from '@coxswain/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Agents as OS processes with command signing on (each voter's key made up front,
// every agent given all voters' public keys). Forged commands carrying a huge token
// are refused and counted; the agents keep obeying the real leader, a new leader's
// signed commands are accepted after failover, and reset-fencing repairs a store
// poisoned before signing was on.
const testDir = dirname(fileURLToPath(import.meta.url));
const bin = join(testDir, '../packages/cli/src/bin.ts');
const CLUSTER = 'proc';
const HUGE = 1_000_000_000;

function cli(args: string[]): Promise<{ code: number | null; out: string }> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx/esm', '--conditions=@coxswain/source', bin, ...args],
    { cwd: testDir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out })));
}

async function post(url: string, path: string, body: unknown): Promise<number> {
  const res = await fetch(`${url}${path}`, {
    method: path.endsWith('/scale') ? 'POST' : 'PUT',
    headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  }).catch(() => undefined);
  return res?.status ?? 0;
}

describe('signed commands', () => {
  let nats: NatsServer;
  let cluster: ProcCluster;
  const ids = ['n1', 'n2', 'n3'];
  const urlOf = (id: string): string => cluster.apiUrl(id)!;

  async function scale(replicas: number): Promise<void> {
    await waitFor(
      `scale to ${replicas} accepted`,
      async () => {
        const leader = cluster.leaderId();
        return leader && (await post(urlOf(leader), '/v1/services/web/scale', { replicas })) === 200
          ? true
          : undefined;
      },
      60_000,
    );
    await waitFor(
      `${replicas} running`,
      async () => ((await cluster.total('web')) === replicas ? true : undefined),
      60_000,
    );
  }

  async function forge(nodeId: string, command: unknown): Promise<ScaleReply> {
    const msg = await cluster.nc.request(
      subjects(CLUSTER).cmd(nodeId),
      encode(ScaleCommand, command as ScaleCommand),
      {
        timeout: 5000,
      },
    );
    const reply = decode(ScaleReply, msg.data);
    if (!reply.ok) throw reply.error;
    return reply.value;
  }

  beforeAll(async () => {
    nats = await NatsServer.start();
    cluster = await ProcCluster.start(nats, ids, { fullAgent: 1 }, { signing: true });
    await waitFor('a leader', () => cluster.leaderId(), 30_000);
    await waitFor('every HTTP API', () =>
      ids.every((id) => cluster.apiUrl(id)) ? true : undefined,
    );
    await waitFor(
      'the service applied',
      async () => {
        const leader = cluster.leaderId();
        return leader &&
          (await post(
            urlOf(leader),
            '/v1/services/web',
            serviceSpec('web', { minReplicas: 1, maxReplicas: 6 }),
          )) === 200
          ? true
          : undefined;
      },
      60_000,
    );
    await scale(2);
  }, 240_000);

  afterAll(async () => {
    await cluster?.stop();
    await nats?.stop();
  }, 120_000);

  it('refuses unsigned, wrongly signed and non-voter commands, counts them, and keeps obeying the leader', async () => {
    const leader = cluster.leaderId()!;
    const target = ids.find((id) => id !== leader)!;
    const forged = {
      v: PROTOCOL_VERSION,
      id: 'forged-1',
      service: 'web',
      spec: ServiceSpec.parse(serviceSpec('web', { minReplicas: 1, maxReplicas: 6 })),
      specVersion: 1,
      replicas: 0,
      token: HUGE,
      term: 99,
      leaderId: leader,
      issuedAt: Date.now(),
      ttlMs: 60_000,
    };
    const unsigned = await forge(target, forged);
    expect(unsigned).toMatchObject({ ok: false, code: 'COX_SIG_MISSING' });
    const stranger = generateSigningKeyPair().privateKey;
    const context = { cluster: CLUSTER, nodeId: target };
    const wrong = await forge(
      target,
      signCommand({ ...forged, id: 'forged-2' }, context, { keyId: leader, privateKey: stranger }),
    );
    expect(wrong).toMatchObject({ ok: false, code: 'COX_SIG_INVALID' });
    const nonVoter = await forge(
      target,
      signCommand({ ...forged, id: 'forged-3', leaderId: 'mallory' }, context, {
        keyId: 'mallory',
        privateKey: stranger,
      }),
    );
    expect(nonVoter).toMatchObject({ ok: false, code: 'COX_SIG_UNKNOWN_SIGNER' });
    // A real voter's key for the wrong node: the signature binds the addressee.
    const metrics = await (await fetch(`${urlOf(target)}/metrics`)).text();
    for (const code of ['COX_SIG_MISSING', 'COX_SIG_INVALID', 'COX_SIG_UNKNOWN_SIGNER'])
      expect(metrics).toMatch(
        new RegExp(`coxswain_commands_unauthenticated_total\\{code="${code}"\\} 1\\b`),
      );
    const host = cluster.hosts.get(target)!;
    expect(host.lines.some((l) => l.includes('refused unauthenticated command'))).toBe(true);
    const fencing = JSON.parse(readFileSync(join(host.dataDir, 'fencing', 'fencing.json'), 'utf8'));
    expect(fencing.highestTokenByService.web ?? 0).toBeLessThan(HUGE);
    await scale(3);
    expect(cluster.operations().every((o) => o.token < HUGE)).toBe(true);
  }, 180_000);

  it("accepts a new leader's signed commands after the old leader is killed", async () => {
    const old = cluster.leaderId()!;
    cluster.killAgent(old);
    await waitFor(
      'a new leader',
      () => {
        const id = cluster.leaderId();
        return id && id !== old ? id : undefined;
      },
      30_000,
    );
    // The old leader's containers live on without their agent, so count the new leader's work.
    const before = cluster.operations().length;
    await waitFor(
      'scale to 4 accepted',
      async () => {
        const leader = cluster.leaderId();
        return leader &&
          (await post(urlOf(leader), '/v1/services/web/scale', { replicas: 4 })) === 200
          ? true
          : undefined;
      },
      60_000,
    );
    await waitFor(
      "an operation done on a live agent under the new leader's signature",
      () =>
        cluster
          .operations()
          .slice(before)
          .some((o) => o.node !== old && o.outcome === 'done')
          ? true
          : undefined,
      60_000,
    );
    await cluster.startAgent(old);
  }, 180_000);

  it('reset-fencing repairs a poisoned store; guarded by --yes and a stopped agent', async () => {
    const leader = cluster.leaderId()!;
    const victim = ids.find((id) => id !== leader)!;
    const dataDir = cluster.hosts.get(victim)!.dataDir;
    const live = await cli(['agent', 'reset-fencing', 'web', '--data-dir', dataDir, '--yes']);
    expect(live.code, live.out).toBe(1);
    expect(live.out).toMatch(/in use by process/);
    cluster.killAgent(victim);
    // As the outside tester's token would have left it before signing was on.
    const file = join(dataDir, 'fencing', 'fencing.json');
    writeFileSync(file, JSON.stringify({ v: 1, highestTokenByService: { web: HUGE } }));
    const unguarded = await cli(['agent', 'reset-fencing', 'web', '--data-dir', dataDir]);
    expect(unguarded.code).toBe(2);
    expect(unguarded.out).toMatch(/without --yes/);
    const reset = await cli(['agent', 'reset-fencing', 'web', '--data-dir', dataDir, '--yes']);
    expect(reset.code, reset.out).toBe(0);
    expect(reset.out).toContain(`${HUGE} -> 0`);
    expect(readFileSync(join(dataDir, 'fencing', 'resets.log'), 'utf8')).toContain(
      `"from":${HUGE}`,
    );
    await cluster.startAgent(victim);
    // The leader's own signed command, with the token the other agents hold for web: the
    // poisoned store would refuse it as stale; the repaired one admits it.
    const leaderNow = cluster.leaderId()!;
    const privateKey = createPrivateKey(
      readFileSync(join(cluster.hosts.get(leaderNow)!.dataDir, 'signing', 'key.pem')),
    );
    const token = Math.max(
      ...ids
        .filter((id) => id !== victim)
        .map(
          (id) =>
            JSON.parse(
              readFileSync(join(cluster.hosts.get(id)!.dataDir, 'fencing', 'fencing.json'), 'utf8'),
            ).highestTokenByService.web ?? 0,
        ),
    );
    expect(token).toBeGreaterThan(0);
    const record = (await cluster.state()).services.web!;
    const running = (await cluster.running('web'))[victim] ?? 0;
    const real = signCommand(
      {
        v: PROTOCOL_VERSION,
        id: 'after-reset',
        service: 'web',
        spec: record.spec,
        specVersion: record.specVersion,
        replicas: running,
        token,
        term: 1,
        leaderId: leaderNow,
        issuedAt: Date.now(),
        ttlMs: 30_000,
      },
      { cluster: CLUSTER, nodeId: victim },
      { keyId: leaderNow, privateKey },
    );
    const answer = await forge(victim, real);
    expect(answer, JSON.stringify(answer)).toMatchObject({ ok: true });
  }, 240_000);
});
