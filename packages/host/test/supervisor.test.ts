import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AssignmentStore } from '../src/assignment-store.js';
import { KeyedMutex } from '../src/keyed-mutex.js';
import { type HealResult, Supervisor } from '../src/supervisor.js';
import { FakeDriver, spec } from './fake-driver.js';
import { linesLogger } from './lines-logger.js';

const stops: Array<() => void> = [];
const dirs: string[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function supervisor(options: { crashLoopThreshold?: number } = {}) {
  const lines: string[] = [];
  const logger = linesLogger('warn', lines);
  const dir = mkdtempSync(join(tmpdir(), 'cox-supervisor-'));
  dirs.push(dir);
  const driver = new FakeDriver();
  const assignments = await AssignmentStore.open(join(dir, 'assignments'));
  await assignments.set('web', { replicas: 2, spec: spec(), specVersion: 1, token: 1 });
  const heals: HealResult[] = [];
  let onHeal: ((r: HealResult) => void) | undefined;
  const s = new Supervisor({
    driver,
    assignments,
    mutex: new KeyedMutex(),
    logger,
    checkIntervalMs: 60_000,
    ...options,
    onHeal: (r) => {
      heals.push(r);
      onHeal?.(r);
    },
  });
  stops.push(() => s.stop());
  const nextHeal = (): Promise<HealResult> =>
    new Promise((resolve) => {
      onHeal = (r) => {
        onHeal = undefined;
        resolve(r);
      };
    });
  return { supervisor: s, driver, heals, nextHeal, lines };
}

describe('Supervisor', () => {
  it('starts the assigned replicas on start, without anyone to ask', async () => {
    const { supervisor: s, driver, nextHeal } = await supervisor();
    const healed = nextHeal();
    s.start();
    expect(await healed).toMatchObject({ service: 'web', started: 2, removedDead: 0 });
    expect(driver.replicas('web').filter((c) => c.status === 'running')).toHaveLength(2);
  });

  it('replaces a replica that died, then removes the dead one', async () => {
    const { supervisor: s, driver, nextHeal } = await supervisor();
    const first = nextHeal();
    s.start();
    await first;
    const [victim] = driver.replicas('web');
    const healed = nextHeal();
    driver.kill(victim!.id);
    expect(await healed).toMatchObject({ started: 1, removedDead: 1 });
    const ids = driver.replicas('web').map((c) => c.id);
    expect(ids).toHaveLength(2);
    expect(ids).not.toContain(victim!.id);
    const created = driver.calls.indexOf('create web v1', 2);
    expect(created).toBeLessThan(driver.calls.indexOf(`remove ${victim!.id}`));
  });

  it('delays restarts of a crash-looping service, but not after an outside SIGKILL', async () => {
    const { supervisor: s, driver, nextHeal, lines } = await supervisor({ crashLoopThreshold: 1 });
    const first = nextHeal();
    s.start();
    await first;
    const delays = (): unknown[] =>
      lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'crash loop: delaying restart');
    // exit 137 without OOM is someone else's kill: it does not count toward the crash loop.
    let healed = nextHeal();
    driver.kill(driver.replicas('web')[0]!.id, 137);
    expect(await healed).toMatchObject({ started: 1 });
    expect(delays()).toEqual([]);
    // A crash reaches the threshold: its restart waits out the first backoff step.
    healed = nextHeal();
    driver.kill(driver.replicas('web').find((c) => c.status === 'running')!.id, 1);
    expect(await healed).toMatchObject({ started: 1 });
    expect(delays()).toMatchObject([{ service: 'web', delayMs: 250 }]);
  });

  it('heals nothing once stopped', async () => {
    const { supervisor: s, driver, heals, nextHeal } = await supervisor();
    const first = nextHeal();
    s.start();
    await first;
    s.stop();
    driver.kill(driver.replicas('web')[0]!.id);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(heals).toHaveLength(1);
  });
});
