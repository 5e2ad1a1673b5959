import { type ChaosJournal, ChaosJournal as JournalSchema } from '@coxswain/protocol';
import { describe, expect, it } from 'vitest';
import { exitCodeOf, renderJunit, renderReport, summaryOf } from '../src/index.js';

function journal(verdict: 'passed' | 'failed'): ChaosJournal {
  const repetitions = [
    {
      index: 1,
      faultAt: '2026-01-01T00:00:00.000Z',
      faults: ['host-kill host-3'],
      phases: [
        {
          phase: 'detect' as const,
          ms: 3100,
          slaMs: 5000,
          met: true,
          source: 'event node.dead: node host-3 dead',
        },
        {
          phase: 'decide' as const,
          ms: 3200,
          slaMs: 6000,
          met: true,
          source: 'event command.issued',
        },
        {
          phase: 'recover' as const,
          ms: verdict === 'passed' ? 4100 : 9000,
          slaMs: 8000,
          met: verdict === 'passed',
          source: 'steady state back',
        },
      ],
      probeSla: [],
      traceIds: ['0af7651916cd43dd8448eb211c80319c'],
      deviated: true,
      verdict,
      reason:
        verdict === 'passed'
          ? 'every phase within its SLA'
          : 'SLA broken: recover 9000 ms > SLA 8000 ms',
      timeline: [{ ms: 0, kind: 'fault', label: 'host-kill host-3 <b>' }],
    },
  ];
  const probe = {
    name: 'web-replicas',
    type: 'replicas',
    status: 'succeeded' as const,
    tolerance_met: true,
    output: { running: 3, desired: 3 },
    detail: 'ok',
    start: '2026-01-01T00:00:00.000Z',
    end: '2026-01-01T00:00:00.010Z',
    duration: 0.01,
  };
  return {
    'chaoslib-version': 'coxswain-chaos 0.1.0',
    platform: 'linux',
    node: 'test',
    experiment: { title: 'kill-host', description: 'd', tags: ['host'] },
    file: 'chaos/experiments/kill-host.yaml',
    start: '2026-01-01T00:00:00.000Z',
    end: '2026-01-01T00:00:10.000Z',
    duration: 10,
    status: verdict === 'passed' ? 'completed' : 'failed',
    deviated: verdict !== 'passed',
    steady_states: {
      before: { steady_state_met: true, probes: [probe] },
      after: { steady_state_met: true, probes: [probe] },
      during: [],
    },
    run: [
      {
        activity: { type: 'fault', name: 'host-kill host-3' },
        status: 'succeeded',
        start: '2026-01-01T00:00:00.000Z',
        end: '2026-01-01T00:00:00.100Z',
        duration: 0.1,
        repetition: 1,
      },
    ],
    rollbacks: [],
    coxswain: {
      seed: 1,
      repetitions,
      summary: summaryOf(repetitions),
      abortedBy: null,
      refused: [],
      exitCode: verdict === 'passed' ? 0 : 1,
    },
  };
}

describe('journal, report, JUnit', () => {
  it('a journal validates against its schema, and one missing its phases does not', () => {
    expect(JournalSchema.safeParse(journal('passed')).success).toBe(true);
    const broken = journal('passed') as unknown as {
      coxswain: { repetitions: { phases?: unknown }[] };
    };
    delete broken.coxswain.repetitions[0]!.phases;
    expect(JournalSchema.safeParse(broken).success).toBe(false);
  });

  it('exit codes: 0 completed, 1 SLA broken, 3 aborted', () => {
    expect(exitCodeOf(journal('passed'))).toBe(0);
    expect(exitCodeOf(journal('failed'))).toBe(1);
    expect(exitCodeOf({ ...journal('passed'), status: 'interrupted' })).toBe(3);
  });

  it('the report is one self-contained page with a timeline and the summary', () => {
    const html = renderReport([journal('passed'), journal('failed')]);
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).not.toMatch(/<script|https?:\/\//);
    expect(html).toContain('<svg');
    expect(html).toContain('stroke-dasharray'); // SLA lines
    expect(html).toContain('host-kill host-3 &#60;b&#62;'); // escaped
    expect(html).toMatch(/<td>recover<\/td><td>1<\/td><td>4.10 s<\/td>/);
  });

  it('JUnit has a failure naming the broken phase', () => {
    const xml = renderJunit([journal('passed'), journal('failed')]);
    expect(xml).toMatch(/^<\?xml/);
    expect(xml.match(/<testsuite /g)).toHaveLength(2);
    expect(xml).toMatch(/<failure message="SLA broken: recover 9000 ms &gt; SLA 8000 ms">/);
    expect(xml).toContain('failures="0"');
  });

  it('a run the preflight refused is an error in JUnit and the report, never a pass', () => {
    const message =
      'chaos/experiments/x.yaml: method[0] (netem): lossPercent 5 need the kernel module sch_netem';
    const refused = {
      ...journal('passed'),
      status: 'failed' as const,
      deviated: false,
      steady_states: { before: null, after: null, during: [] },
      run: [],
      coxswain: { ...journal('passed').coxswain, repetitions: [], refused: [message], exitCode: 2 },
    };
    expect(JournalSchema.safeParse(refused).success).toBe(true);
    expect(exitCodeOf(refused)).toBe(2);
    const xml = renderJunit([refused]);
    expect(xml).toContain('tests="1" failures="0" errors="1"');
    expect(xml).toContain(
      '<testcase classname="kill-host" name="preflight" time="0"><error message="',
    );
    expect(xml).toContain('sch_netem');
    expect(xml).not.toContain('repetition');
    const html = renderReport([refused]);
    expect(html).toContain('refused before the run:');
    expect(html).toContain('0 passed');
  });
});
