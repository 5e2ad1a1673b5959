import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Advisor, type AdvisorFigures, applyAdvice, policyClamps } from '../src/index.js';

/**
 * A real HTTP server speaking the chat-completions API; the path picks the answer:
 * /good, /fenced, /not-json, /bad-advice, /no-choices, /refusal, /filtered, /prose, /slow, /500, /huge.
 */
let server: Server;
let base: string;
const seen: { path: string; auth: string | undefined; body: Record<string, unknown> }[] = [];

const completion = (content: string | null, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    id: 'chatcmpl-1',
    object: 'chat.completion',
    model: 'test-model',
    choices: [
      { index: 0, message: { role: 'assistant', content, ...extra }, finish_reason: 'stop' },
    ],
  });

function answer(path: string, res: ServerResponse): void {
  const json = (status: number, text: string) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(text);
  };
  const good = JSON.stringify({
    targetUtilization: 0.7,
    minReplicas: 3,
    rationale: 'p95 crossed the SLO at 82 % CPU in 3 of the last 10 reports.',
  });
  switch (path) {
    case '/good':
      json(200, completion(good));
      return;
    case '/fenced':
      json(200, completion(`\`\`\`json\n${good}\n\`\`\``));
      return;
    case '/not-json':
      json(200, '{"choices": [');
      return;
    case '/bad-advice':
      json(200, completion(JSON.stringify({ targetUtilization: 7, rationale: 'more' })));
      return;
    case '/extra-field':
      json(200, completion(JSON.stringify({ replicas: 100, rationale: 'run 100' })));
      return;
    case '/no-choices':
      json(200, JSON.stringify({ choices: [] }));
      return;
    case '/refusal':
      json(200, completion(null, { refusal: 'I cannot help with that.' }));
      return;
    case '/filtered':
      json(
        200,
        JSON.stringify({
          choices: [{ message: { content: '' }, finish_reason: 'content_filter' }],
        }),
      );
      return;
    case '/prose':
      json(200, completion('I would rather not change anything.'));
      return;
    case '/slow':
      setTimeout(() => json(200, completion(good)), 1500);
      return;
    case '/500':
      json(500, JSON.stringify({ error: { message: 'upstream overloaded' } }));
      return;
    case '/huge':
      json(200, completion('x'.repeat(200_000)));
      return;
    default:
      json(404, '{}');
      return;
  }
}

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      seen.push({ path: req.url ?? '', auth: req.headers.authorization, body: JSON.parse(text) });
      answer(req.url ?? '', res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const figures: AdvisorFigures = {
  service: 'web',
  policy: 'predictive',
  params: { targetUtilization: 0.8 },
  sloP95Ms: 250,
  recent: [
    { time: 0, replicas: 3, requestRatePerSecond: 40, cpuPercent: 82, p95LatencyMs: 310 },
    { time: 15_000, replicas: 4, requestRatePerSecond: 42, cpuPercent: 66, p95LatencyMs: 120 },
  ],
};
const env = { TEST_ADVISOR_KEY: 'sk-test' };
const advisor = (path: string, extra: Record<string, unknown> = {}) =>
  new Advisor(
    {
      enabled: true,
      url: `${base}${path}`,
      model: 'test-model',
      apiKeyEnv: 'TEST_ADVISOR_KEY',
      ...extra,
    },
    { env },
  );

describe('advisor against a local chat-completions server', () => {
  it('sends the figures with the key and model, and validates the advice', async () => {
    const a = advisor('/good');
    const r = await a.ask(figures);
    expect(r).toEqual({
      ok: true,
      advice: {
        targetUtilization: 0.7,
        minReplicas: 3,
        rationale: 'p95 crossed the SLO at 82 % CPU in 3 of the last 10 reports.',
      },
    });
    const req = seen.find((s) => s.path === '/good')!;
    expect(req.auth).toBe('Bearer sk-test');
    expect(req.body.model).toBe('test-model');
    const messages = req.body.messages as { role: string; content: string }[];
    expect(messages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(JSON.parse(messages[1]!.content).recent[0].p95LatencyMs).toBe(310);
    expect(a.counts.get('ok')).toBe(1);
  });

  it('accepts a fenced JSON answer', async () => {
    const r = await advisor('/fenced').ask(figures);
    expect(r.ok && r.advice.targetUtilization).toBe(0.7);
  });

  it.each([
    ['/not-json', 'COX_ADVISOR_MALFORMED', /response body: not JSON/],
    ['/no-choices', 'COX_ADVISOR_MALFORMED', /choices: .*at least 1|choices/],
    ['/bad-advice', 'COX_ADVISOR_MALFORMED', /targetUtilization/],
    ['/extra-field', 'COX_ADVISOR_MALFORMED', /replicas|Unrecognized/i],
    ['/prose', 'COX_ADVISOR_MALFORMED', /not a JSON object/],
    ['/refusal', 'COX_ADVISOR_REFUSED', /I cannot help/],
    ['/filtered', 'COX_ADVISOR_REFUSED', /content_filter/],
    ['/500', 'COX_ADVISOR_HTTP', /HTTP 500: .*upstream overloaded/],
    ['/huge', 'COX_ADVISOR_MALFORMED', /exceeds 65536/],
  ])('%s is a typed error, counted', async (path, code, message) => {
    const a = advisor(path);
    const r = await a.ask(figures);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe(code);
    expect(r.error.message).toMatch(message);
    expect(a.counts.get(code)).toBe(1);
  });

  it('gives up on a slow answer at its timeout', async () => {
    const started = performance.now();
    const r = await advisor('/slow', { timeoutMs: 300 }).ask(figures);
    expect(r.ok ? 'ok' : r.error.code).toBe('COX_ADVISOR_TIMEOUT');
    expect(performance.now() - started).toBeLessThan(1400);
  });

  it('is off by default, and needs its key', async () => {
    const off = new Advisor({ url: `${base}/good`, model: 'm' }, { env });
    const r1 = await off.ask(figures);
    expect(r1.ok ? 'ok' : r1.error.code).toBe('COX_ADVISOR_DISABLED');
    const nokey = new Advisor({ enabled: true, url: `${base}/good`, model: 'm' }, { env: {} });
    const r2 = await nokey.ask(figures);
    expect(r2.ok ? 'ok' : r2.error.message).toMatch(/COXSWAIN_ADVISOR_API_KEY is not set/);
  });

  it('reports an unreachable endpoint as a network error', async () => {
    const r = await new Advisor(
      { enabled: true, url: 'http://127.0.0.1:9/v1/chat/completions', model: 'm', apiKeyEnv: 'K' },
      { env: { K: 'x' } },
    ).ask(figures);
    expect(r.ok ? 'ok' : r.error.code).toBe('COX_ADVISOR_NETWORK');
  });
});

describe('applyAdvice', () => {
  const clamps = policyClamps('predictive', { min: 1, max: 10 });
  const advice = {
    targetUtilization: 0.3,
    minReplicas: 4,
    scaleUpAbovePercent: 80,
    rationale: 'r',
  };

  it('changes nothing without apply', () => {
    const r = applyAdvice({ targetUtilization: 0.8 }, advice, clamps, false);
    expect(r.params).toEqual({ targetUtilization: 0.8 });
    expect(r.notes.join('\n')).toMatch(/advice only/);
  });

  it('applies within the clamps and ignores what the policy has no setting for', () => {
    const r = applyAdvice({ targetUtilization: 0.8 }, advice, clamps, true);
    expect(r.params).toEqual({ targetUtilization: 0.5, minReplicas: 4 });
    expect(r.notes).toContain('targetUtilization 0.8 → 0.5 (clamped from 0.3 to [0.5, 0.95])');
    expect(r.notes.join('\n')).toMatch(/scaleUpAbovePercent 80: not a setting of this policy/);
  });

  it('keeps a threshold pair ordered', () => {
    const r = applyAdvice(
      { scaleUpAbovePercent: 75, scaleDownBelowPercent: 40 },
      { scaleUpAbovePercent: 55, scaleDownBelowPercent: 58, rationale: 'r' },
      policyClamps('threshold', { min: 1, max: 10 }),
      true,
    );
    expect(r.params).toEqual({ scaleUpAbovePercent: 75, scaleDownBelowPercent: 40 });
  });
});
