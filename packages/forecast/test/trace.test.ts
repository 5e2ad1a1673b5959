import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { aggregate, backtest, parseTrace, TraceParseError, toRates } from '../src/index.js';
import { tracesDir } from './helpers.js';

describe('trace files', () => {
  it('parses rows and the bin width', () => {
    const t = parseTrace('t_seconds,requests\n0,5\n60,7\n120,0\n', 'x.csv');
    expect(t.stepSeconds).toBe(60);
    expect([...t.counts]).toEqual([5, 7, 0]);
    expect(t.name).toBe('x');
    expect([...aggregate(t.counts, 2)]).toEqual([12]);
    expect([...toRates(t.counts, 60)][1]).toBeCloseTo(7 / 60, 12);
  });

  it('names the file and line of a bad row', () => {
    const bad = (text: string): TraceParseError => {
      try {
        parseTrace(text, 'load.csv');
      } catch (error) {
        expect(error).toBeInstanceOf(TraceParseError);
        return error as TraceParseError;
      }
      throw new Error('expected a TraceParseError');
    };
    const negative = bad('t_seconds,requests\n0,5\n60,-3\n');
    expect(negative.line).toBe(3);
    expect(negative.message).toMatch(/^load\.csv:3: requests/);
    expect(bad('t_seconds,requests\n0,5\n60,abc\n').message).toMatch(/load\.csv:3: requests/);
    expect(bad('t_seconds,requests\n0,5\n60,\n').message).toMatch(/load\.csv:3/);
    expect(bad('t_seconds,requests\n0,5\n60,1,2\n').message).toMatch(
      /load\.csv:3: expected 2 comma-separated columns/,
    );
    expect(bad('time,count\n0,5\n').message).toMatch(/load\.csv:1: expected the header/);
    expect(bad('t_seconds,requests\n0,5\n60,5\n180,5\n').message).toMatch(
      /load\.csv:4: bins must be evenly spaced/,
    );
    expect(bad('t_seconds,requests\n0,5\n').code).toBe('COX_TRACE_PARSE');
  });

  it('reads every real trace and backtests a stretch of each', () => {
    const dir = tracesDir();
    for (const [file, step] of [
      ['nasa_jul95_per_minute.csv', 60],
      ['azure_functions_1day_per_minute.csv', 60],
      ['wikipedia_hourly.csv', 3600],
    ] as const) {
      const trace = parseTrace(readFileSync(join(dir, file), 'utf8'), file);
      expect(trace.stepSeconds).toBe(step);
      expect(trace.counts.length).toBeGreaterThan(1000);
      const rates = toRates(trace.counts.subarray(0, 1440), step);
      const result = backtest(rates, { horizons: [1, 2], initial: 576, nonNegative: true });
      const auto = result.rows.find((r) => r.model === 'auto' && r.horizon === 2)!;
      expect(auto.count).toBeGreaterThan(800);
      expect(Number.isFinite(auto.mase)).toBe(true);
    }
  });
});
