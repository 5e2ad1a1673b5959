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

async function executor(now: () => number, driver = new FakeDriver()) {
  const dir = mkdtempSync(join(tmpdir(), 'cox-expiry-'));
  dirs.push(dir);
  const assignments = await AssignmentStore.open(join(dir, 'assignments'));
  const fencing = await FencingStore.open(join(dir, 'fencing'));
  const e = new Executor({
    nodeId: 'n1',
    driver,
    fencing,
    assignments,
    mutex: new KeyedMutex(),
    logger: silentHostLogger,
    stopTimeoutMs: 0,
    now,
  });
  return { executor: e, driver, assignments, fencing };
}

let seq = 0;
const command = (replicas: number, token: number, extra: Partial<ScaleCommand> = {}) =>
  ({
    v: PROTOCOL_VERSION,
    id: `web.${token}.n1.${++seq}`,
    service: 'web',
    spec: spec(),
    specVersion: 1,
    replicas,
    token,
    term: 1,
    leaderId: 'l',
    issuedAt: 10_000,
    ttlMs: 3000,
    ...extra,
  }) satisfies ScaleCommand;

describe('Executor: command expiry', () => {
  it('runs a command inside its TTL', async () => {
    const { executor: e, driver } = await executor(() => 12_999);
    expect(await e.execute(command(2, 5))).toMatchObject({ ok: true, started: 2 });
    expect(driver.replicas('web')).toHaveLength(2);
  });

  it('refuses an expired command before storing its token or assignment, and changes nothing', async () => {
    const { executor: e, driver, assignments, fencing } = await executor(() => 13_001);
    const reply = await e.execute(command(2, 5));
    expect(reply).toMatchObject({ ok: false, code: 'COX_COMMAND_EXPIRED' });
    expect(driver.replicas('web')).toHaveLength(0);
    expect(assignments.get('web')).toBeUndefined();
    expect(fencing.highest('web')).toBe(0);
    expect(e.history().at(-1)).toMatchObject({ outcome: 'refused', code: 'COX_COMMAND_EXPIRED' });
  });

  it('re-checks before removing: a command that expires while it waits for health removes nothing and restores the assignment', async () => {
    let now = 10_000;
    const driver = new FakeDriver();
    const { executor: e, assignments } = await executor(() => now, driver);
    await e.execute(command(3, 4, { ttlMs: undefined }));
    expect(driver.replicas('web')).toHaveLength(3);
    // A scale-down to 1 of a new spec version: creates one, waits for health, then would remove 3.
    const waitHealthy = driver.waitHealthy.bind(driver);
    driver.waitHealthy = async (id: string) => {
      now = 20_000; // frozen past the TTL while waiting
      await waitHealthy(id);
    };
    const reply = await e.execute(command(1, 5, { specVersion: 2 }));
    expect(reply).toMatchObject({ ok: false, code: 'COX_COMMAND_EXPIRED' });
    expect(reply.ok === false && reply.message).toMatch(/removing replicas/);
    expect(driver.replicas('web').filter((c) => c.specVersion === 1)).toHaveLength(3);
    expect(assignments.get('web')).toMatchObject({ replicas: 3, specVersion: 1, token: 4 });
  });

  it('has no expiry without ttlMs (a command from an older leader)', async () => {
    const { executor: e } = await executor(() => 1e12);
    expect(await e.execute(command(1, 5, { ttlMs: undefined }))).toMatchObject({ ok: true });
  });
});
