import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FencingStore,
  FencingStoreCorruptError,
  StaleFencingTokenError,
} from '../src/fencing-store.js';

const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'cox-fencing-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('FencingStore', () => {
  it('admits equal or higher tokens and refuses lower ones with the highest it holds', async () => {
    const store = await FencingStore.open(tempDir());
    await store.admit('web', 5);
    await store.admit('web', 5);
    await store.admit('web', 9);
    const error = await store.admit('web', 7).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StaleFencingTokenError);
    expect(error).toMatchObject({ code: 'COX_STALE_TOKEN', service: 'web', token: 7, highest: 9 });
    // Tokens are per service.
    await store.admit('api', 1);
    expect(store.highest('api')).toBe(1);
    expect(store.highest('web')).toBe(9);
  });

  it('remembers tokens across a restart (the file is written before admit returns)', async () => {
    const dir = tempDir();
    const a = await FencingStore.open(dir);
    await Promise.all([a.admit('web', 12), a.admit('api', 3)]);
    expect(JSON.parse(readFileSync(join(dir, 'fencing.json'), 'utf8'))).toEqual({
      v: 1,
      highestTokenByService: { web: 12, api: 3 },
    });
    const b = await FencingStore.open(dir);
    await expect(b.admit('web', 11)).rejects.toBeInstanceOf(StaleFencingTokenError);
    await b.admit('web', 12);
  });

  it('refuses to open a corrupt file rather than forget tokens', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'fencing.json'), '{"v":1,"highestTokenByService":{"web":-3}}');
    await expect(FencingStore.open(dir)).rejects.toBeInstanceOf(FencingStoreCorruptError);
    writeFileSync(join(dir, 'fencing.json'), 'not json');
    await expect(FencingStore.open(dir)).rejects.toThrow(/not JSON/);
  });
});
