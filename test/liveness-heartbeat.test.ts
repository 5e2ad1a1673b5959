// The liveness heartbeat end to end on a real nats-server: two agents' real
// Heartbeat publishers (over NatsLink) and a report a second each; the
// leader's real ReportIntake, and the pure decide run every 20 ms as the
// coordinator would. Node a's link goes through a relay that delays every
// byte by 100 ms ± 20 ms (the chaos latency experiment); node b stops
// beating and reporting. b must be declared dead within nodeDeadAfter (1 s)
// of its last heartbeat, a never.
import { setTimeout as sleep } from 'node:timers/promises';
import { Heartbeat, ReportContexts, ReportIntake } from '@coxswain/agent';
import {
  ClusterState,
  decide,
  encodeClusterCommand,
  ReportHub,
  ServiceHistory,
} from '@coxswain/control';
import { NatsLink } from '@coxswain/nats-link';
import {
  encode,
  type NodeReport,
  NodeReport as NodeReportSchema,
  subjects,
} from '@coxswain/protocol';
import { MetricsRegistry } from '@coxswain/telemetry';
import { LinkRelay, NatsServer } from '@coxswain/testkit';
import { connect, type MsgHdrs } from 'nats';
import { describe, expect, it } from 'vitest';

const CLUSTER = 'hb';
const DEAD_AFTER_MS = 1000;

function report(nodeId: string, seq: number): NodeReport {
  return {
    v: 1,
    cluster: CLUSTER,
    nodeId,
    address: nodeId,
    role: 'voter',
    capacity: { cpus: 4, memoryBytes: 2 ** 33, maxReplicas: 20 },
    labels: {},
    time: Date.now(),
    seq,
    dockerReachable: true,
    containers: [],
    services: {},
  };
}

describe('liveness heartbeat over real NATS', () => {
  it('declares a node dead within nodeDeadAfter of its last heartbeat; a delayed one stays alive', async () => {
    await using nats = await NatsServer.start();
    const port = Number(new URL(nats.url).port);
    const relay = await LinkRelay.start({
      listenHost: '127.0.0.1',
      targetHost: '127.0.0.1',
      targetPort: port,
    });
    relay.setShape({ up: { delayMs: 100, jitterMs: 20 }, down: { delayMs: 100, jitterMs: 20 } });
    const metrics = new MetricsRegistry({ defaultMetrics: false });
    const sent = metrics.counter('hb_total', 'heartbeats', ['outcome']);
    const links = {
      a: new NatsLink({ servers: [`nats://127.0.0.1:${relay.port}`], name: 'a' }),
      b: new NatsLink({ servers: [nats.url], name: 'b' }),
    };
    const leader = await connect({ servers: nats.url });
    const state = new ClusterState({ nodeDeadAfterMs: DEAD_AFTER_MS });
    let index = 0;
    for (const id of ['a', 'b'])
      state.applyEntry({
        index: ++index,
        type: 'normal',
        data: encodeClusterCommand({
          type: 'node.register',
          at: 0,
          node: {
            id,
            address: id,
            capacity: { cpus: 4, memoryBytes: 2 ** 33 },
            labels: {},
            role: 'voter',
          },
        }),
      });
    const rejected: string[] = [];
    const intake = new ReportIntake({
      cluster: CLUSTER,
      history: new ServiceHistory(),
      contexts: new ReportContexts(),
      nodeDeadAfterMs: () => DEAD_AFTER_MS,
      onRejected: (s, r) => rejected.push(`${s} ${r}`),
    });
    // The agent's one report subscription, handing every report to the intake of the leader.
    const hub = new ReportHub<MsgHdrs>({ cluster: CLUSTER, subject: subjects(CLUSTER).reports });
    hub.follow(intake);
    intake.lead(true);
    leader.subscribe(subjects(CLUSTER).reports, {
      callback: (e, m) => {
        if (!e) hub.receive(m.subject, m.data, m.headers, performance.now());
      },
    });
    leader.subscribe(subjects(CLUSTER).heartbeats, {
      callback: (e, m) => intake.handleHeartbeat(e, m),
    });
    await leader.flush();
    const beats: Record<string, Heartbeat> = {};
    const reporting = new Set(['a', 'b']);
    let seq = 0;
    const reportTimer = setInterval(() => {
      seq += 1;
      for (const id of reporting) {
        const nc = links[id as 'a' | 'b'].connection;
        nc?.publish(subjects(CLUSTER).report(id), encode(NodeReportSchema, report(id, seq)));
      }
    }, 1000);
    try {
      for (const id of ['a', 'b'] as const) {
        expect(await links[id].start(5000)).toBe(true);
        beats[id] = new Heartbeat({
          link: links[id],
          cluster: CLUSTER,
          nodeId: id,
          intervalMs: 200,
          sent,
        });
        beats[id].start();
        links[id].connection!.publish(
          subjects(CLUSTER).report(id),
          encode(NodeReportSchema, report(id, 0)),
        );
      }
      const observingSinceMs = performance.now();
      const declared = new Map<string, number>();
      const watch = async (untilMs: number) => {
        while (performance.now() < untilMs) {
          const now = performance.now();
          for (const id of decide({
            state,
            observed: intake.observed(),
            history: new Map(),
            settledAtMs: new Map(),
            busy: new Set(),
            nowMs: now,
            logicalNowMs: 0,
            observingSinceMs,
            reconcileGraceMs: 300,
          }).dead)
            if (!declared.has(id)) declared.set(id, now);
          await sleep(20);
        }
      };
      // Both beating for 4 s: a (100 ms ± 20 ms each way) must not be declared.
      await watch(performance.now() + 4000);
      expect([...declared.keys()]).toEqual([]);
      const lastB = intake.observed().get('b')!;
      const lastHeardB = Math.max(lastB.receivedAtMs, lastB.heartbeatAtMs ?? 0);
      beats.b!.stop();
      reporting.delete('b');
      const stoppedAt = performance.now();
      await watch(stoppedAt + 3000);
      expect([...declared.keys()]).toEqual(['b']);
      const heardToDead =
        declared.get('b')! - Math.max(lastHeardB, intake.observed().get('b')!.heartbeatAtMs ?? 0);
      // Dead-after from the last heartbeat, plus one 20 ms watch step and timer slack.
      expect(heardToDead).toBeGreaterThan(DEAD_AFTER_MS);
      expect(heardToDead).toBeLessThan(DEAD_AFTER_MS + 150);
      // From the stop: at most one heartbeat interval less, never more than the bound.
      expect(declared.get('b')! - stoppedAt).toBeLessThan(DEAD_AFTER_MS + 150);
      expect(rejected).toEqual([]);
    } finally {
      clearInterval(reportTimer);
      for (const b of Object.values(beats)) b.stop();
      await links.a.stop();
      await links.b.stop();
      await leader.close();
      await relay.stop();
    }
  }, 30_000);
});
