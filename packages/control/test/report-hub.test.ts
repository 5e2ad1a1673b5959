import { encode, type NodeReport, NodeReport as NodeReportSchema } from '@coxswain/protocol';
import { describe, expect, it } from 'vitest';
import { FigureHistory } from '../src/figure-history.js';
import { ReportHub } from '../src/report-hub.js';

function report(nodeId: string, rate: number, cluster = 'c'): NodeReport {
  return {
    v: 1,
    cluster,
    nodeId,
    address: nodeId,
    role: 'client',
    capacity: { cpus: 4, memoryBytes: 2 ** 33, maxReplicas: 20 },
    labels: {},
    time: 1_700_000_000_000,
    seq: 1,
    dockerReachable: true,
    containers: [],
    services: { web: { time: 1_700_000_000_000, containerCount: 2, requestRatePerSecond: rate } },
  };
}

const bytes = (r: NodeReport) => encode(NodeReportSchema, r);

function hub(leading: boolean, history?: FigureHistory) {
  const taken: string[] = [];
  const rejected: string[] = [];
  const h = new ReportHub({
    cluster: 'c',
    subject: 'cox.c.report.*',
    onRejected: (s, r) => rejected.push(`${s} ${r}`),
    maxNodes: 3,
    ...(history ? { history } : {}),
  });
  h.follow({
    wantsAll: () => leading,
    take: (r: NodeReport, _headers: unknown, atMs: number) => taken.push(`${r.nodeId}@${atMs}`),
  });
  return { h, taken, rejected };
}

describe('ReportHub', () => {
  it('on the leader decodes every report once and hands it to the consumer and the figure history', () => {
    const { h, taken } = hub(true);
    for (let t = 0; t < 5; t += 1)
      h.receive('cox.c.report.n1', bytes(report('n1', t)), undefined, t * 1000);
    expect(taken).toEqual(['n1@0', 'n1@1000', 'n1@2000', 'n1@3000', 'n1@4000']);
    expect(h.decoded).toBe(5);
    expect(h.received).toBe(5);
    // Asking for the latest decodes nothing more: it was decoded on arrival.
    expect(h.latest().get('n1')?.report.services.web?.requestRatePerSecond).toBe(4);
    expect(h.decoded).toBe(5);
    expect(h.history.figures('web', 10_000, 4000).n1).toHaveLength(5);
  });

  it('on a follower decodes only the samples the history keeps; the rest on demand, once', () => {
    // A history so small that it keeps one sample every 10 s of this one node.
    const { h, taken } = hub(false, new FigureHistory({ keepMs: 100_000, maxFigures: 10 }));
    for (let t = 0; t < 30; t += 1)
      h.receive('cox.c.report.n1', bytes(report('n1', t)), undefined, t * 1000);
    expect(taken).toEqual([]);
    expect(h.received).toBe(30);
    expect(h.decoded).toBe(3);
    expect(h.lastHeardMs('n1')).toBe(29_000);
    expect(h.latest().get('n1')).toMatchObject({ receivedAtMs: 29_000 });
    expect(h.latest().get('n1')?.report.services.web?.requestRatePerSecond).toBe(29);
    expect(h.decoded).toBe(4);
    expect(
      h.history.figures('web', 100_000, 29_000).n1!.map((f) => f.requestRatePerSecond),
    ).toEqual([0, 10, 20]);
  });

  it('counts bad bytes, keeps the last good report, and leaves out undecodable and foreign ones', () => {
    const { h, rejected } = hub(true);
    h.receive('cox.c.report.n1', bytes(report('n1', 1)), undefined, 0);
    h.receive('cox.c.report.n1', new TextEncoder().encode('{"v":1'), undefined, 1);
    h.receive('cox.c.report.x', bytes(report('x', 1, 'other')), undefined, 2);
    expect(rejected).toEqual(['cox.c.report.* COX_MALFORMED_PAYLOAD']);
    expect([...h.latest().keys()]).toEqual(['n1']);
    expect(h.lastHeardMs('n1')).toBe(0);
    // On a follower the same bytes are refused when first read, and counted then.
    const f = hub(false, new FigureHistory({ keepMs: 100_000, maxFigures: 1 }));
    f.h.receive('cox.c.report.n1', bytes(report('n1', 1)), undefined, 0);
    f.h.receive('cox.c.report.n1', new TextEncoder().encode('{"v":1'), undefined, 1);
    // Its first report was decoded on arrival (the history keeps it): that one stands.
    expect(f.h.latest().get('n1')?.receivedAtMs).toBe(0);
    expect(f.rejected).toEqual(['cox.c.report.* COX_MALFORMED_PAYLOAD']);
    // A node whose only bytes are bad is left out.
    f.h.receive('cox.c.report.n2', new TextEncoder().encode('nope'), undefined, 2);
    expect([...f.h.latest().keys()]).toEqual(['n1']);
  });

  it('with defer, the leader decodes perTurn nodes a turn, newest report per node, none lost', () => {
    const turns: (() => void)[] = [];
    const taken: string[] = [];
    const h = new ReportHub({
      cluster: 'c',
      subject: 'cox.c.report.*',
      defer: (run) => turns.push(run),
      perTurn: 2,
    });
    let leading = true;
    h.follow({
      wantsAll: () => leading,
      take: (r: NodeReport, _headers: unknown, atMs: number) =>
        taken.push(`${r.nodeId}:${r.services.web?.requestRatePerSecond}@${atMs}`),
    });
    // One socket read's worth: five nodes, and n1 twice.
    for (const [i, id] of ['n1', 'n2', 'n3', 'n1', 'n4', 'n5'].entries())
      h.receive(`cox.c.report.${id}`, bytes(report(id, i)), undefined, i);
    // Nothing decoded inside the callback; one turn queued, however many reports came.
    expect(taken).toEqual([]);
    expect(h.decoded).toBe(0);
    expect(turns).toHaveLength(1);
    expect(h.lastHeardMs('n1')).toBe(3);
    turns.shift()!();
    // n1's newer report replaced the waiting one, at its own arrival time.
    expect(taken).toEqual(['n1:3@3', 'n2:1@1']);
    expect(turns).toHaveLength(1);
    turns.shift()!();
    turns.shift()!();
    expect(taken).toEqual(['n1:3@3', 'n2:1@1', 'n3:2@2', 'n4:4@4', 'n5:5@5']);
    expect(turns).toHaveLength(0);
    expect(h.decoded).toBe(5);
    expect(h.history.figures('web', 10, 5).n1).toHaveLength(1);
    // Stepped down with reports waiting: they are not taken, and are decoded when asked for.
    h.receive('cox.c.report.n2', bytes(report('n2', 9)), undefined, 9);
    leading = false;
    turns.shift()!();
    expect(taken).toHaveLength(5);
    expect(h.decoded).toBe(5);
    expect(h.latest().get('n2')?.report.services.web?.requestRatePerSecond).toBe(9);
  });

  it('keeps at most maxNodes nodes, dropping the one heard from longest ago', () => {
    const { h } = hub(false);
    for (const [i, id] of ['a', 'b', 'c', 'a', 'd'].entries())
      h.receive(`cox.c.report.${id}`, bytes(report(id, 1)), undefined, i);
    expect([...h.lastHeard().keys()].sort()).toEqual(['a', 'c', 'd']);
  });
});
