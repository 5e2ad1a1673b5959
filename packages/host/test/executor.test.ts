import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROTOCOL_VERSION, type ScaleCommand } from '@coxswain/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { AssignmentStore } from '../src/assignment-store.js';
import { Executor } from '../src/executor.js';
import { FencingStore } from '../src/fencing-store.js';
import { KeyedMutex } from '../src/keyed-mutex.js';
import { silentHostLogger } from '../src/logger.js';
import { FakeDriver, spec } from './fake-driver.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function executor(driver = new FakeDriver()) {
  const dir = mkdtempSync(join(tmpdir(), 'cox-executor-'));
  dirs.push(dir);
  const assignments = await AssignmentStore.open(join(dir, 'assignments'));
  const fencing = await FencingStore.open(join(dir, 'fencing'));
  const rejected: string[] = [];
  const e = new Executor({
    nodeId: 'n1',
    driver,
    fencing,
    assignments,
    mutex: new KeyedMutex(),
    logger: silentHostLogger,
    stopTimeoutMs: 0,
    onRejected: (reason) => rejected.push(reason),
  });
  return { executor: e, driver, assignments, fencing };
}

let seq = 0;
function command(replicas: number, token: number, extra: Partial<ScaleCommand> = {}): ScaleCommand {
  return {
    v: PROTOCOL_VERSION,
    id: `web.${token}.n1.${++seq}`,
    service: 'web',
    spec: spec(),
    specVersion: 1,
    replicas,
    token,
    term: 1,
    leaderId: 'l',
    issuedAt: 0,
    ...extra,
  };
}

describe('Executor', () => {
  it('creates the missing replicas, stores the assignment and the token, and removes the surplus', async () => {
    const { executor: e, driver, assignments, fencing } = await executor();
    const up = await e.execute(command(3, 5));
    expect(up).toMatchObject({ ok: true, running: 3, started: 3, stopped: 0 });
    expect(assignments.get('web')).toMatchObject({ replicas: 3, specVersion: 1, token: 5 });
    expect(fencing.highest('web')).toBe(5);
    const down = await e.execute(command(1, 6));
    expect(down).toMatchObject({ ok: true, running: 1, started: 0, stopped: 2 });
    expect(driver.replicas('web')).toHaveLength(1);
    expect(e.history().map((h) => h.outcome)).toEqual(['done', 'done']);
  });

  it('refuses a token below the highest it stored, and changes nothing', async () => {
    const { executor: e, driver } = await executor();
    await e.execute(command(2, 10));
    const stale = await e.execute(command(5, 9));
    expect(stale).toMatchObject({ ok: false, code: 'COX_STALE_TOKEN', highestToken: 10 });
    expect(driver.replicas('web')).toHaveLength(2);
    expect(e.history().at(-1)).toMatchObject({ outcome: 'refused', code: 'COX_STALE_TOKEN' });
  });

  it('answers a repeated command id with its first result, without doing it twice', async () => {
    const { executor: e, driver } = await executor();
    const c = command(2, 3);
    const [a, b] = await Promise.all([e.execute(c), e.execute(c)]);
    expect(b).toBe(a);
    expect(driver.calls.filter((x) => x.startsWith('create'))).toHaveLength(2);
  });

  it('replaces replicas of an older spec version', async () => {
    const { executor: e, driver } = await executor();
    await e.execute(command(2, 1));
    const next = await e.execute(command(2, 2, { specVersion: 2, spec: spec({ image: 'y' }) }));
    expect(next).toMatchObject({ ok: true, started: 2, stopped: 2 });
    expect(driver.replicas('web').map((c) => c.specVersion)).toEqual([2, 2]);
  });

  it('reports a replica that never becomes healthy as COX_HEALTH_TIMEOUT', async () => {
    const driver = new FakeDriver();
    driver.unhealthy = true;
    const { executor: e } = await executor(driver);
    const reply = await e.execute(command(1, 1));
    expect(reply).toMatchObject({ ok: false, code: 'COX_HEALTH_TIMEOUT' });
    expect(e.history().at(-1)).toMatchObject({ outcome: 'failed', code: 'COX_HEALTH_TIMEOUT' });
  });

  it('refuses a spec naming another service', async () => {
    const { executor: e } = await executor();
    const reply = await e.execute(command(1, 1, { spec: spec({ name: 'api' }) }));
    expect(reply).toMatchObject({ ok: false, code: 'COX_INVALID_PAYLOAD' });
  });
});
