import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LearnedTable } from '@coxswain/forecast';
import { Command } from 'commander';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { registerPolicyCommand } from '../src/commands/policy.js';
import { registerSimulateCommand, shippedPredictiveText } from '../src/commands/simulate.js';

const dir = mkdtempSync(join(tmpdir(), 'cox-cli-policy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(argv: string[]): string {
  const program = new Command('coxswain').exitOverride();
  registerSimulateCommand(program);
  registerPolicyCommand(program);
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
    lines.push(a.join(' '));
  });
  const err = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => {
    lines.push(`ERR ${a.join(' ')}`);
  });
  try {
    program.parse(argv, { from: 'user' });
  } finally {
    log.mockRestore();
    err.mockRestore();
  }
  return lines.join('\n');
}

describe('coxswain simulate on any bin width', () => {
  it('replays a 10-second-bin CSV and says where each policy lost time over the SLO', () => {
    const file = join(dir, 'ten.csv');
    const rows = ['t_seconds,requests'];
    for (let i = 0; i < 1500; i++) rows.push(`${i * 10},${i >= 700 && i < 760 ? 900 : 60}`);
    writeFileSync(file, `${rows.join('\n')}\n`);
    const out = run([
      'simulate',
      '--trace',
      file,
      '--policy',
      'predictive,predictive+warm,hpa',
      '--episodes',
      '2',
    ]);
    expect(out).not.toMatch(/^ERR/m);
    expect(out).toMatch(/1500 bins of 10 s/);
    expect(out).toMatch(/^predictive\+warm\s/m);
    expect(out).toMatch(/where time over the SLO was lost:/);
    // The burst starts at 7000 s = 01:56 of trace time.
    expect(out).toMatch(/hpa: \d+ s over the SLO in \d+ episodes; by cause: burst/);
    expect(out).toMatch(/01:5[67]–\d\d:\d\d trace time: .*a burst: the rate at least doubled/);
  });
});

describe('coxswain simulate --help', () => {
  it('states the predictive defaults that ship (the README quotes this text)', () => {
    // Pinned: a change of PredictiveParams' defaults must come with README's policy section.
    expect(shippedPredictiveText()).toBe(
      "80, on the p90 forecast, horizon 'arrival', 180 s scale-down stabilization, burst headroom off",
    );
    const program = new Command('coxswain');
    registerSimulateCommand(program);
    const help = program.commands.find((c) => c.name() === 'simulate')!.helpInformation();
    expect(help.replace(/\s+/g, ' ')).toContain(
      `(default: its shipped ${shippedPredictiveText()})`,
    );
  });
});

describe('coxswain policy train', () => {
  it('writes a table the learned policy loads, the same for the same seed', () => {
    const a = join(dir, 'a.json');
    const b = join(dir, 'b.json');
    for (const out of [a, b])
      expect(run(['policy', 'train', '--out', out, '--per-family', '1', '--epochs', '1'])).toMatch(
        /trained on 5 traces × 1 epochs .* states visited; written to/,
      );
    const table = LearnedTable.parse(JSON.parse(readFileSync(a, 'utf8')));
    expect(table.trainedOn).toBe('coxswain policy train --seed 1 --epochs 1 --per-family 1');
    expect(readFileSync(a, 'utf8')).toBe(readFileSync(b, 'utf8'));
  });

  it('reproduces the shipped table with its defaults', () => {
    const out = join(dir, 'shipped.json');
    run(['policy', 'train', '--out', out]);
    const shipped = JSON.parse(
      readFileSync(new URL('../../forecast/src/learned-table.json', import.meta.url), 'utf8'),
    );
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(shipped);
  });
});
