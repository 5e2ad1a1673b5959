/**
 * `coxswain explain SERVICE --config FILE` with the LLM advisor: a real agent
 * HTTP server (port 0) over a replicated ClusterState whose writes are applied
 * to it, and a real local HTTP server speaking the chat-completions API, whose
 * path picks a good, out-of-clamp, malformed, slow or refusing answer.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ApiWrite,
  type ClusterView,
  EventBus,
  HttpServer,
  type RaftStatusView,
  registerClusterApi,
} from '@coxswain/agent';
import { ClusterState } from '@coxswain/control';
import {
  type ApiReply,
  type DecisionRecord,
  PROTOCOL_VERSION,
  type ServiceFigures,
} from '@coxswain/protocol';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerCommands } from '../src/commands/index.js';

let index = 0;
class WritableView implements ClusterView {
  readonly nodeId = 'n1';
  readonly cluster = 'lab';
  readonly state = new ClusterState();
  readonly events = new EventBus({ nodeId: 'n1' });
  readonly writes: ApiWrite[] = [];
  snapshot() {
    return this.state.toSnapshot();
  }
  status(): RaftStatusView {
    return {
      role: 'leader',
      term: 3,
      leaderId: 'n1',
      commitIndex: this.state.appliedIndex,
      appliedIndex: this.state.appliedIndex,
      members: [{ id: 'n1', voter: true }],
      sinceLastApplyMs: 5,
      sinceLeaderContactMs: 0,
    };
  }
  apiAddressOf() {
    return null;
  }
  async consistentRead() {}
  async submit(write: ApiWrite): Promise<ApiReply> {
    this.writes.push(write);
    if (write.op !== 'service.apply') throw new Error(`unexpected write ${write.op}`);
    this.state.apply({ type: 'service.put', at: 0, spec: write.spec }, ++index);
    return {
      v: PROTOCOL_VERSION,
      ok: true,
      servedBy: 'n1',
      leaderId: 'n1',
      specVersion: this.state.service(write.spec.name)!.specVersion,
    };
  }
  reports() {
    return new Map();
  }
  figures(): Record<string, ServiceFigures[]> {
    return {};
  }
}

const decisions: DecisionRecord[] = Array.from({ length: 6 }, (_, i) => ({
  id: `n1-3-${i}`,
  service: 'web',
  atEpochMs: 1_700_000_000_000 + i * 15_000,
  term: 3,
  leaderId: 'n1',
  policy: 'predictive',
  inputs: {
    replicas: 3,
    samples: 10,
    cpuPercent: 80 + i,
    requestRatePerSecond: 200 + 10 * i,
    p95LatencyMs: i < 3 ? 150 : 320,
  },
  currentReplicas: 3,
  recommendedReplicas: 3,
  desiredReplicas: 3,
  binding: { rule: 'target', detail: 'the target alone asked for 3' },
  forecast: null,
  reason: 'p90 forecast → 3',
  outcome: { status: 'unchanged', commandIds: [] },
}));

const view = new WritableView();
const api = new HttpServer({ host: '127.0.0.1', port: 0 });
let apiUrl = '';
let llm: Server;
let llmUrl = '';
const asked: Record<string, unknown>[] = [];
const dir = mkdtempSync(join(tmpdir(), 'cox-explain-advisor-'));

const completion = (content: string | null, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    id: 'c1',
    object: 'chat.completion',
    choices: [
      { index: 0, message: { role: 'assistant', content, ...extra }, finish_reason: 'stop' },
    ],
  });

beforeAll(async () => {
  view.state.apply(
    {
      type: 'service.put',
      at: 0,
      spec: {
        name: 'web',
        image: 'img',
        minReplicas: 2,
        maxReplicas: 8,
        sloP95Ms: 250,
        policy: { name: 'predictive', params: { targetUtilization: 0.8 } },
      },
    },
    ++index,
  );
  registerClusterApi(api.router, {
    view,
    token: 'a-long-api-token',
    decisions: (service, limit) =>
      service === 'web' ? [...decisions].reverse().slice(0, limit) : [],
  });
  apiUrl = `http://127.0.0.1:${await api.listen()}`;

  llm = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += String(c);
    });
    req.on('end', () => {
      asked.push({ path: req.url, auth: req.headers.authorization, ...JSON.parse(body) });
      const json = (status: number, text: string) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(text);
      };
      const good = (target: number, min: number) =>
        completion(
          JSON.stringify({
            targetUtilization: target,
            minReplicas: min,
            rationale: 'p95 320 ms over the 250 ms SLO in the last 3 decisions at 83-85 % CPU.',
          }),
        );
      switch (req.url) {
        case '/good':
          return json(200, good(0.7, 3));
        case '/out-of-clamp':
          return json(200, good(0.2, 50));
        case '/malformed':
          return json(200, completion('{"targetUtilization": "lower", "rationale": 3}'));
        case '/refusal':
          return json(200, completion(null, { refusal: 'I will not advise on that.' }));
        case '/slow':
          setTimeout(() => json(200, good(0.7, 3)), 2000).unref();
          return;
        default:
          return json(404, '{}');
      }
    });
  });
  await new Promise<void>((resolve) => llm.listen(0, '127.0.0.1', resolve));
  llmUrl = `http://127.0.0.1:${(llm.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await api.close();
  llm.closeAllConnections();
  await new Promise<void>((resolve) => llm.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
  delete process.env.COX_TEST_ADVISOR_KEY;
});

function configFile(name: string, advisor: Record<string, unknown>): string {
  const path = join(dir, `${name}.yaml`);
  // The agent's own settings sit beside `advisor:` and are not read here.
  writeFileSync(
    path,
    `nodeId: n1\nadvisor:\n${Object.entries(advisor)
      .map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`)
      .join('\n')}\n`,
  );
  return path;
}

async function explain(...args: string[]): Promise<{ out: string; err: string; code: unknown }> {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    err += String(chunk);
    return true;
  });
  const program = new Command('coxswain').exitOverride();
  registerCommands(program);
  await program.parseAsync([
    'node',
    'coxswain',
    'explain',
    'web',
    '--api',
    apiUrl,
    '--token',
    'a-long-api-token',
    ...args,
  ]);
  const code = process.exitCode;
  vi.restoreAllMocks();
  return { out, err, code };
}

const base = (path: string) => ({
  enabled: true,
  url: `${llmUrl}${path}`,
  model: 'test-model',
  apiKeyEnv: 'COX_TEST_ADVISOR_KEY',
  timeoutMs: 500,
});

describe('coxswain explain with the advisor', () => {
  it('asks nothing without --config, or with the advisor off', async () => {
    const before = asked.length;
    const plain = await explain();
    expect(plain.out).toContain('web has');
    expect(plain.out).not.toContain('Advisor');
    const off = await explain('--config', configFile('off', { ...base('/good'), enabled: false }));
    expect(off.out).not.toContain('Advisor');
    expect(asked.length).toBe(before);
  });

  it('shows validated advice from the recent figures, and changes nothing without apply', async () => {
    process.env.COX_TEST_ADVISOR_KEY = 'sk-test';
    const { out, code } = await explain('--config', configFile('show', base('/good')));
    expect(code).toBeUndefined();
    expect(out).toContain('Advisor (test-model): p95 320 ms over the 250 ms SLO');
    expect(out).toContain('targetUtilization 0.7: advice only (advisor.apply is false)');
    expect(out).toContain('minReplicas 3: advice only');
    const sent = asked.at(-1)!;
    expect(sent.auth).toBe('Bearer sk-test');
    expect(sent.model).toBe('test-model');
    const figures = JSON.parse(
      (sent.messages as { role: string; content: string }[]).find((m) => m.role === 'user')!
        .content,
    );
    expect(figures).toMatchObject({ service: 'web', policy: 'predictive', sloP95Ms: 250 });
    expect(figures.recent).toHaveLength(6);
    // Oldest first, and half of them over the SLO.
    expect(figures.recent[0].requestRatePerSecond).toBe(200);
    expect(figures.overSloFraction).toBe(0.5);
    expect(view.writes).toHaveLength(0);
  });

  it('applies advice with apply: true, only within the policy clamps, as a new spec version', async () => {
    process.env.COX_TEST_ADVISOR_KEY = 'sk-test';
    const versionBefore = view.state.service('web')!.specVersion;
    const { out } = await explain(
      '--config',
      configFile('apply', { ...base('/out-of-clamp'), apply: true }),
    );
    expect(out).toContain('targetUtilization 0.8 → 0.5 (clamped from 0.2 to [0.5, 0.95])');
    expect(out).toContain('minReplicas 2 → 8 (clamped from 50 to [2, 8])');
    expect(out).toMatch(/applied: web is now at spec version \d+ \(applied by n1\)/);
    expect(view.writes).toHaveLength(1);
    const spec = view.state.service('web')!;
    expect(spec.specVersion).toBe(versionBefore + 1);
    expect(spec.spec.minReplicas).toBe(8);
    expect(spec.spec.maxReplicas).toBe(8);
    expect(spec.spec.policy.params).toEqual({ targetUtilization: 0.5 });
  });

  it('says why there is no advice on a malformed, refusing or slow answer, or without a key', async () => {
    const noKey = await explain('--config', configFile('nokey', base('/good')));
    expect(noKey.out).toContain(
      'no advice — COX_ADVISOR_NO_KEY: advisor config: environment variable COX_TEST_ADVISOR_KEY is not set',
    );
    process.env.COX_TEST_ADVISOR_KEY = 'sk-test';
    const malformed = await explain('--config', configFile('bad', base('/malformed')));
    expect(malformed.out).toMatch(
      /no advice — COX_ADVISOR_MALFORMED: advisor choices\[0\]\.message\.content: .*targetUtilization/,
    );
    const refused = await explain('--config', configFile('refuse', base('/refusal')));
    expect(refused.out).toContain('COX_ADVISOR_REFUSED');
    expect(refused.out).toContain('I will not advise on that.');
    const started = Date.now();
    const slow = await explain('--config', configFile('slow', { ...base('/slow'), apply: true }));
    expect(Date.now() - started).toBeLessThan(1900);
    expect(slow.out).toContain('COX_ADVISOR_TIMEOUT');
    // Whatever failed, the explanation itself is still printed and nothing is written.
    for (const r of [noKey, malformed, refused, slow]) {
      expect(r.out).toContain('web has');
      expect(r.code).toBeUndefined();
    }
    expect(view.writes).toHaveLength(1);
  });

  it('names the file and field of a bad advisor section', async () => {
    const { err, code } = await explain(
      '--config',
      configFile('invalid', { ...base('/good'), url: 'not a url' }),
    );
    expect(code).not.toBeUndefined();
    expect(err).toMatch(/invalid\.yaml/);
    expect(err).toMatch(/advisor\.url/);
  });
});
