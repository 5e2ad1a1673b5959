import { describe, expect, it } from 'vitest';
import { ExportFailureReporter } from '../src/export-failures.js';

function harness(logEveryMs = 1_000) {
  const lines: { message: string; fields: Readonly<Record<string, unknown>> | undefined }[] = [];
  let now = 0;
  const reporter = new ExportFailureReporter({
    log: { warn: (message, fields) => lines.push({ message, fields }) },
    nowMs: () => now,
    logEveryMs,
  });
  return { reporter, lines, advance: (ms: number) => (now += ms) };
}

describe('ExportFailureReporter', () => {
  it('counts every failure and logs the first, then at most once per interval', () => {
    const { reporter, lines, advance } = harness(1_000);
    reporter.report(new Error('one'));
    reporter.report(new Error('two'));
    reporter.report(new Error('three'));
    expect(reporter.count).toBe(3);
    expect(lines).toHaveLength(1);
    expect(lines[0]?.fields).toMatchObject({ error: { message: 'one' }, failures: 1 });
    advance(1_000);
    reporter.report(new Error('four'));
    expect(lines).toHaveLength(2);
    expect(lines[1]?.fields).toMatchObject({
      error: { message: 'four' },
      failures: 4,
      notLoggedSinceLast: 2,
    });
  });

  it('counts one error once when it arrives by two paths', () => {
    const { reporter } = harness();
    const error = new Error('batch failed');
    reporter.report(error);
    reporter.report(error);
    expect(reporter.count).toBe(1);
  });

  it('accepts non-Error values', () => {
    const { reporter, lines } = harness();
    reporter.report('collector said no');
    expect(reporter.count).toBe(1);
    expect(lines[0]?.fields).toMatchObject({ error: 'collector said no' });
  });
});
