import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import {
  parseHorizons,
  readTrace,
  rebin,
  registerForecastCommand,
} from '../src/commands/forecast.js';
import { parsePolicies, registerSimulateCommand } from '../src/commands/simulate.js';

const dir = mkdtempSync(join(tmpdir(), 'cox-cli-forecast-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Parses argv with a fresh program that throws instead of exiting, capturing what commander would print. */
function parseError(argv: string[]): string {
  const program = new Command('coxswain').exitOverride();
  let output = '';
  program.configureOutput({ writeErr: (s) => (output += s), writeOut: () => {} });
  registerForecastCommand(program);
  registerSimulateCommand(program);
  for (const c of program.commands) {
    c.exitOverride().configureOutput({ writeErr: (s) => (output += s), writeOut: () => {} });
    for (const sub of c.commands)
      sub.exitOverride().configureOutput({ writeErr: (s) => (output += s), writeOut: () => {} });
  }
  try {
    program.parse(argv, { from: 'user' });
  } catch {
    return output;
  }
  throw new Error(`expected ${argv.join(' ')} to fail`);
}

describe('forecast and simulate arguments', () => {
  it('names the option and the bad value', () => {
    expect(
      parseError(['forecast', 'backtest', '--trace', 'x.csv', '--horizons', '1,zero']),
    ).toMatch(
      /option '--horizons <list>' argument '1,zero' is invalid\. horizon "zero" is not a whole number of steps >= 1/,
    );
    expect(parseError(['simulate', '--trace', 'x.csv', '--policy', 'hpa,kpa'])).toMatch(
      /unknown policy "kpa"; choose from predictive, predictive\+warm, learned, hpa, threshold, score/,
    );
    expect(parseError(['simulate', '--trace', 'x.csv', '--slo-ms', '-5'])).toMatch(
      /--slo-ms must be a positive number, got "-5"/,
    );
    expect(parseError(['simulate', '--trace', 'x.csv', '--compress', 'fast'])).toMatch(
      /--compress must be a positive number, got "fast"/,
    );
    expect(parseError(['simulate', '--trace', 'x.csv', '--max-replicas', '2.5'])).toMatch(
      /--max-replicas must be a whole number >= 1/,
    );
    expect(parseError(['forecast', 'backtest', '--trace', 'x.csv', '--coverage', '1.5'])).toMatch(
      /--coverage must be between 0 and 1/,
    );
    expect(parseError(['simulate'])).toMatch(/required option '--trace <file>' not specified/);
  });

  it('parses good values', () => {
    expect(parseHorizons('1, 5,15')).toEqual([1, 5, 15]);
    expect(parsePolicies('hpa,predictive,hpa')).toEqual(['hpa', 'predictive']);
  });

  it('reports a bad trace row with its file and line, and a missing file by name', () => {
    const file = join(dir, 'bad.csv');
    writeFileSync(file, 't_seconds,requests\n0,1\n60,x\n');
    expect(() => readTrace(file)).toThrow(`${file}:3: requests`);
    expect(() => readTrace(join(dir, 'missing.csv'))).toThrow(
      /cannot read trace .*missing\.csv: ENOENT/,
    );
  });

  it('re-bins only to whole multiples of the trace bin', () => {
    const file = join(dir, 'ok.csv');
    writeFileSync(file, 't_seconds,requests\n0,1\n60,2\n120,3\n180,4\n');
    const trace = readTrace(file);
    expect([...rebin(trace, 120).counts]).toEqual([3, 7]);
    expect(() => rebin(trace, 90)).toThrow(
      /--step 90 must be a whole multiple of the trace's 60 s bins/,
    );
  });
});
