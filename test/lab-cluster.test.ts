/**
 * The README's first command as a cluster: `coxswain lab` with three hosts
 * (network namespaces, a real dockerd each, the agent with its cluster member
 * as its own process, run from source) forms a Raft group, takes the sample
 * service, scales it by the manual override, fails over when the leader's
 * agent is SIGKILLed, and leaves nothing behind.
 */
import { existsSync, rmSync } from 'node:fs';
import { type LabView, loadServiceSpec, renderLabTable, runScenario } from '@coxswain/lab';
import type { ClusterInfo, ServicesReply } from '@coxswain/protocol';
import { isAlive, makeTempDir, pollUntil } from '@coxswain/testkit';
import { describe, expect, it } from 'vitest';
import { startSourceLab } from './fixtures/source-lab.js';

type Service = ServicesReply['services'][number];
const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

describe('coxswain lab as a cluster', () => {
  it('forms a cluster with one leader, runs and scales the sample service over the hosts, fails over when the leader’s agent is killed, and stop() leaves nothing', async () => {
    const stateDir = makeTempDir('cxlc-');
    const lab = await startSourceLab(stateDir);
    const engineDirs = lab.hosts.map((h) => h.dockerd!.dir);
    const netnsNames = lab.hosts.map((h) => h.netns!);
    const agentPids: number[] = [];
    try {
      expect(lab.voters).toEqual(['host-1', 'host-2', 'host-3']);
      for (const h of lab.hosts) agentPids.push(h.agentPid!);

      // One leader, and every agent names the same one in the same term.
      const first = await lab.waitForLeader(90_000);
      const leader = first.leader!.id;
      const views = await pollUntil(
        'every agent to name the same leader',
        async () => {
          const all = await Promise.all(
            lab.hosts.map((h) =>
              lab
                .api(h.name)
                .cluster()
                .catch(() => undefined),
            ),
          );
          return all.every((c) => c?.leader?.id === leader && c.term === first.term)
            ? (all as ClusterInfo[])
            : undefined;
        },
        30_000,
        250,
      );
      expect(views.filter((c) => c.role === 'leader').map((c) => c.meta.node)).toEqual([leader]);

      // The secure default: every client of the server came over TLS as a user of its own.
      const connz = (await (
        await fetch(`${lab.natsServers[0]!.monitorUrl}/connz?auth=true`)
      ).json()) as { connections?: { tls_version?: string; authorized_user?: string }[] };
      const users = (connz.connections ?? []).map((c) => c.authorized_user);
      expect(users.sort()).toEqual(['host-1', 'host-2', 'host-3', 'lab-observer']);
      for (const c of connz.connections ?? []) expect(c.tls_version).toMatch(/^1\.[23]$/);
      expect(views.map((c) => c.cluster)).toEqual(['lab', 'lab', 'lab']);

      // The sample service reaches its minimum, spread over hosts.
      const spec = loadServiceSpec();
      expect(spec.minReplicas).toBe(2);
      await lab.waitForAllNodes(60_000);
      await lab.api('host-3').applyService(spec);
      const web = async (want: number): Promise<Service> =>
        pollUntil(
          `web to run ${want} replicas`,
          async () => {
            const svc = (await lab.refreshCluster())?.services?.find((s) => s.name === 'web');
            return svc && svc.desiredReplicas === want && total(svc.running) === want
              ? svc
              : undefined;
          },
          60_000,
          250,
        );
      const atMin = await web(2);
      expect(Object.values(atMin.running).filter((n) => n > 0).length).toBe(2);

      // The manual override, sent to a follower and forwarded to the leader.
      const follower = lab.hosts.find((h) => h.name !== leader)!.name;
      const reply = await lab.api(follower).scaleService('web', 5, { timeoutMs: 30_000 });
      expect(reply.appliedBy).toBe(leader);
      const atFive = await web(5);
      expect(atFive.manualReplicas).toBe(5);
      expect(Object.keys(atFive.running).filter((n) => (atFive.running[n] ?? 0) > 0).length).toBe(
        3,
      );
      // The engines agree with the cluster: five web containers running across the hosts.
      let engineCount = 0;
      for (const h of lab.hosts) {
        const list = await h.dockerd!.docker.listContainers({
          filters: { label: ['coxswain.service=web'] },
        });
        engineCount += list.length;
      }
      expect(engineCount).toBe(5);

      // The leader's agent dies; a voter of a later term takes over.
      await lab.killAgent(leader);
      expect(lab.host(leader).state).toBe('agent killed');
      expect(lab.host(leader).agentPid).toBeUndefined();
      const next = await lab.waitForLeader(30_000, { newerThanTerm: first.term });
      expect(next.leader!.id).not.toBe(leader);
      expect(next.term).toBeGreaterThan(first.term);

      // The view says so, and it reads.
      const view: LabView = await lab.view();
      expect(view.clusterState?.leader).toBe(next.leader!.id);
      const text = renderLabTable(view).join('\n');
      expect(text).toContain(`raft: leader ${next.leader!.id}, term ${next.term}`);
      expect(text).toMatch(new RegExp(`${leader}\\s+\\S+\\s+voter.*agent killed`));
      expect(text).toMatch(new RegExp(`${next.leader!.id}\\s+\\S+\\s+LEADER`));
      expect(text).toContain('leader.elected');

      // It comes back as a follower of the new leader.
      await lab.restartAgent(leader);
      await pollUntil(
        `${leader} to rejoin as a follower`,
        async () => {
          const c = await lab
            .api(leader)
            .cluster()
            .catch(() => undefined);
          return c?.role === 'follower' && c.leader?.id === next.leader!.id ? c : undefined;
        },
        60_000,
        250,
      );
      agentPids.push(lab.host(leader).agentPid!);
    } finally {
      await lab.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
    for (const pid of agentPids) expect(isAlive(pid)).toBe(false);
    for (const dir of engineDirs) expect(existsSync(dir)).toBe(false);
    for (const ns of netnsNames) expect(existsSync(`/var/run/netns/${ns}`)).toBe(false);
  }, 300_000);

  it('runs the scripted scenario end to end: formed, declared, scaled up and down, failed over, rejoined', async () => {
    const stateDir = makeTempDir('cxlc-');
    const lab = await startSourceLab(stateDir);
    try {
      const outcome = await runScenario(lab, { scenario: 'full', pauseMs: 0, scaleTo: 4 });
      expect(outcome.error).toBeUndefined();
      expect(outcome.reached.map((r) => r.replicas)).toEqual([2, 4, 2]);
      const f = outcome.failover!;
      expect(f.newLeader).not.toBe(f.killed);
      expect(f.newTerm).toBeGreaterThan(f.oldTerm);
      expect(outcome.rejoined?.id).toBe(f.killed);
      const notes = lab.events.filter((e) => e.source === 'lab').map((e) => e.message);
      expect(notes.some((m) => m.startsWith('cluster formed'))).toBe(true);
      expect(notes.some((m) => m.startsWith('failover:'))).toBe(true);
      expect(notes.at(-1)).toBe('scenario done');
      expect(lab.events.some((e) => e.type === 'leader.elected' && e.source === f.newLeader)).toBe(
        true,
      );
    } finally {
      await lab.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
  }, 300_000);

  it('renders the cluster: leader, term, commit index, roles, placement per host, the service and the events', () => {
    const base: LabView = {
      mode: 'netns',
      cluster: 'lab',
      natsUrls: ['nats://10.1.2.1:4222'],
      elapsedMs: 40_000,
      durationMs: 90_000,
      hosts: [
        {
          name: 'host-1',
          address: '10.1.2.11',
          role: 'LEADER',
          placed: { web: 4 },
          state: 'up',
          dockerRunning: 4,
          dockerTotal: 4,
          report: undefined,
          reportAgeMs: undefined,
        },
        {
          name: 'host-2',
          address: '10.1.2.12',
          role: 'voter',
          placed: { web: 0 },
          state: 'agent killed',
          dockerRunning: 2,
          dockerTotal: 2,
          report: undefined,
          reportAgeMs: undefined,
        },
      ],
      badReports: 0,
      lastBadReport: undefined,
      agentNote: undefined,
    };
    const lines = renderLabTable({
      ...base,
      clusterState: {
        leader: 'host-1',
        term: 3,
        commitIndex: 41,
        voters: ['host-1', 'host-2'],
        fromHost: 'host-1',
        ageMs: 12,
        error: undefined,
        services: [{ name: 'web', desired: 4, manual: 4, running: 3, locked: true }],
      },
      events: [
        { elapsedMs: -3, source: 'lab', type: 'lab', message: 'waiting for the voters' },
        {
          elapsedMs: 33_300,
          source: 'host-1',
          type: 'leader.elected',
          message: 'host-1 leads term 3',
        },
      ],
      badEvents: 1,
    });
    const text = lines.join('\n');
    expect(lines[1]).toBe(
      'raft: leader host-1, term 3, commit index 41, voters host-1 host-2 (as host-1 saw it 12ms ago)',
    );
    expect(lines[2]).toBe(
      'service web: 3/4 running, pinned to 4 (manual), operation in progress (locked)',
    );
    expect(text).toMatch(/HOST\s+ADDRESS\s+ROLE\s+STATE.*PLACED \(cluster\)/);
    expect(lines.find((l) => l.startsWith('host-1'))).toMatch(/LEADER\s+up\s.*web 4$/);
    expect(lines.find((l) => l.startsWith('host-2'))).toMatch(/voter\s+agent killed\s.*web 0$/);
    expect(text).toContain('   +0.0s  lab                 waiting for the voters');
    expect(text).toContain('  +33.3s  leader.elected      host-1: host-1 leads term 3');
    expect(text).toContain('1 invalid event(s) dropped');

    // Without a cluster (no agents, or an older caller) the table has no cluster columns.
    const plain = renderLabTable(base).join('\n');
    expect(plain).not.toContain('ROLE');
    expect(plain).not.toContain('raft:');
  });
});
