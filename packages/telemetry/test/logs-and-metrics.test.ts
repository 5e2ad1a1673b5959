import { describe, expect, it } from 'vitest';
import { createLogger, MetricsRegistry } from '../src/index.js';

describe('logger', () => {
  it('writes JSON lines off a TTY, with child fields and error details', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info', isTTY: false, write: (l) => lines.push(l) }).child({
      node: 'n1',
    });
    log.debug('hidden');
    log.warn('careful', { error: Object.assign(new Error('bad'), { code: 'COX_X' }) });
    expect(lines).toHaveLength(1);
    const rec = JSON.parse(lines[0]!);
    expect(rec).toMatchObject({
      level: 'warn',
      msg: 'careful',
      node: 'n1',
      error: { message: 'bad', code: 'COX_X' },
    });
  });
  it('writes readable lines on a TTY', () => {
    const lines: string[] = [];
    createLogger({ isTTY: true, write: (l) => lines.push(l) }).info('hello world', { n: 1 });
    expect(lines[0]).toMatch(/INFO +hello world n=1$/);
  });
});

describe('MetricsRegistry', () => {
  it('renders counters with labels, sampled gauges and counters, and histograms via prom-client', async () => {
    const m = new MetricsRegistry({ defaultMetrics: false });
    const c = m.counter('x_total', 'X.', ['subject', 'reason']);
    c.inc({ subject: 'a.b', reason: 'COX_"Q"' });
    c.inc({ subject: 'a.b', reason: 'COX_"Q"' }, 2);
    m.gauge('g', 'G.', () => 5);
    m.gauge('gl', 'GL.', () => [{ labels: { state: 'running' }, value: 2 }], ['state']);
    let events = 3;
    m.counterFrom('e_total', 'E.', () => events);
    m.gauge('broken', 'B.', () => {
      throw new Error('no source');
    });
    m.histogram('h_seconds', 'H.', [0.1, 1]).observe(0.5);
    let text = await m.render();
    expect(text).toContain('x_total{subject="a.b",reason="COX_\\"Q\\""} 3');
    expect(text).toContain('# TYPE x_total counter');
    expect(text).toContain('g 5');
    expect(text).toContain('gl{state="running"} 2');
    expect(text).toContain('# TYPE e_total counter');
    expect(text).toContain('e_total 3');
    expect(text).not.toMatch(/^broken /m);
    expect(text).toContain('h_seconds_bucket{le="0.1"} 0');
    expect(text).toContain('h_seconds_bucket{le="1"} 1');
    expect(text).toContain('h_seconds_count 1');
    expect(c.total()).toBe(3);
    events = 7;
    text = await m.render();
    expect(text).toContain('e_total 7');
  });

  it('exports the default process metrics', async () => {
    const text = await new MetricsRegistry().render();
    expect(text).toContain('process_cpu_seconds_total');
    expect(text).toContain('nodejs_heap_size_total_bytes');
  });
});
