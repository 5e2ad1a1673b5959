import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

async function setup(aliveMark: number | 'none', now = 100_000) {
  const lines: string[] = [];
  const logger = linesLogger('info', lines);
  const dir = mkdtempSync(join(tmpdir(), 'cox-absence-'));
  dirs.push(dir);
  const absenceDir = join(dir, 'supervisor');
  if (aliveMark !== 'none') {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(absenceDir, { recursive: true });
    writeFileSync(join(absenceDir, 'alive.json'), JSON.stringify({ epochMs: aliveMark }));
  }
  const driver = new FakeDriver();
  const assignments = await AssignmentStore.open(join(dir, 'assignments'));
  await assignments.set('web', { replicas: 2, spec: spec(), specVersion: 1, token: 7 });
  const heals: HealResult[] = [];
  const s = new Supervisor({
    driver,
    assignments,
    mutex: new KeyedMutex(),
    logger,
    checkIntervalMs: 60_000,
    absence: { dir: absenceDir, holdAfterMs: 1500, now: () => now },
    onHeal: (r) => heals.push(r),
  });
  stops.push(() => s.stop());
  return { supervisor: s, driver, assignments, heals, lines };
}

const settle = () => new Promise((r) => setTimeout(r, 50));

describe('Supervisor after an absence', () => {
  it('restores the assignment after a short absence (static stability)', async () => {
    const { supervisor: s, driver } = await setup(99_000);
    s.start();
    await settle();
    expect(s.held().size).toBe(0);
    expect(driver.replicas('web')).toHaveLength(2);
  });

  it('holds the assignment after an absence longer than nodeDeadAfter, until a newer command confirms it', async () => {
    const { supervisor: s, driver, assignments, lines } = await setup(90_000);
    s.start();
    await settle();
    expect(driver.replicas('web')).toHaveLength(0);
    expect([...s.held().keys()]).toEqual(['web']);
    expect(lines.join('\n')).toMatch(/holding assignments until a leader confirms them/);
    s.checkAll();
    await settle();
    expect(driver.replicas('web')).toHaveLength(0);
    // A leader's command (the executor stores it with its token): confirmed, healing resumes.
    await assignments.set('web', { replicas: 1, spec: spec(), specVersion: 1, token: 8 });
    s.checkAll();
    await settle();
    expect(s.held().size).toBe(0);
    expect(driver.replicas('web')).toHaveLength(1);
  });

  it('holds when there is no alive mark at all (absence of unknown length)', async () => {
    const { supervisor: s, driver } = await setup('none');
    s.start();
    await settle();
    expect(driver.replicas('web')).toHaveLength(0);
    expect(s.held().get('web')).toMatchObject({ token: 7 });
  });
});
