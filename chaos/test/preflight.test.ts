import type { ChaosFault } from '@coxswain/protocol';
import { describe, expect, it } from 'vitest';
import { parseExperiment } from '../src/load.js';
import { type Capabilities, preflightRefusals } from '../src/preflight.js';

function experiment(fault: Partial<ChaosFault> & { kind: ChaosFault['kind'] }) {
  const yaml = `title: t
description: d
steadyState:
  title: s
  probes:
    - { name: one-leader, type: leader }
method:
  - type: pause
    duration: 1s
  - type: fault
    fault: ${JSON.stringify(fault)}
`;
  return parseExperiment('chaos/experiments/t.yaml', yaml);
}

const NO_NETEM = { ok: false, detail: 'tc: Specified qdisc kind is unknown.' };
const lab = (netem: Capabilities['netem'], relay = true): Capabilities => ({
  lab: true,
  relay,
  netem,
});

describe('preflightRefusals', () => {
  const delay = experiment({ kind: 'netem', host: 'leader', delayMs: 100, jitterMs: 20 });
  const loss = experiment({ kind: 'netem', host: 'leader', delayMs: 100, lossPercent: 5 });

  it('lets delay and jitter through without sch_netem when the lab has its relays', () => {
    expect(preflightRefusals(delay, lab(NO_NETEM))).toEqual([]);
  });

  it('lets every netem fault through where the kernel has sch_netem', () => {
    expect(preflightRefusals(loss, lab({ ok: true, detail: 'ok' }))).toEqual([]);
    expect(preflightRefusals(delay, lab({ ok: true, detail: 'ok' }, false))).toEqual([]);
  });

  it('refuses loss, duplication and reordering without sch_netem, naming fault, file and module', () => {
    const [r, ...rest] = preflightRefusals(loss, lab(NO_NETEM));
    expect(rest).toEqual([]);
    expect(r).toMatchObject({ at: 'method[1]', fault: 'netem' });
    expect(r!.message).toMatch(
      /^chaos\/experiments\/t\.yaml: method\[1\] \(netem\): lossPercent 5/,
    );
    expect(r!.message).toContain('sch_netem');
    expect(r!.message).toContain('Specified qdisc kind is unknown');
    expect(r!.message).toContain('models only delayMs and jitterMs');
    const dup = experiment({
      kind: 'netem',
      host: 'host-1',
      duplicatePercent: 1,
      reorderPercent: 2,
    });
    expect(preflightRefusals(dup, lab(NO_NETEM))[0]!.message).toContain(
      'duplicatePercent 1, reorderPercent 2 need the kernel module sch_netem',
    );
  });

  it('refuses even a delay without sch_netem when the lab runs without relays', () => {
    const [r] = preflightRefusals(delay, lab(NO_NETEM, false));
    expect(r!.message).toMatch(/needs the kernel module sch_netem.*without its NATS relays/);
  });

  it('refuses lab-only faults on a target without the lab, and passes container faults', () => {
    const api: Capabilities = { lab: false, relay: false, netem: undefined };
    expect(
      preflightRefusals(experiment({ kind: 'host-kill', host: 'leader' }), api)[0]!.message,
    ).toBe(
      'chaos/experiments/t.yaml: method[1] (host-kill): needs the lab provider (--target lab); this target has no lab',
    );
    expect(
      preflightRefusals(experiment({ kind: 'container-kill', service: 'web', count: 1 }), api),
    ).toEqual([]);
  });
});
