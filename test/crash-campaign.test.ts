/**
 * The crash campaign's short form (the 100-kill run is `pnpm bench crash-campaign`): five
 * SIGKILLs of Raft voters during writes and five of a process writing the fencing and
 * assignment stores, each followed by a restart and a check from disk that nothing acknowledged
 * was lost and no term, commit index or token went backwards.
 */
import {
  makeTempDir,
  NatsServer,
  raftCrashCampaign,
  removeDir,
  storeCrashCampaign,
} from '@coxswain/testkit';
import { afterAll, describe, expect, it } from 'vitest';

describe('crash campaign (short form)', () => {
  const dir = makeTempDir('cox-crash-');
  afterAll(async () => removeDir(dir));

  it('five voter kills during writes lose no acknowledged write', async () => {
    await using ns = await NatsServer.start();
    const result = await raftCrashCampaign({ natsUrl: ns.url, baseDir: dir, kills: 5 });
    expect(result.kills).toBe(5);
    expect(result.restarts).toBe(5);
    expect(result.ackedWrites).toBeGreaterThan(5 * 25);
    expect(result.lost).toBe(0);
    expect(result.wentBackwards).toBe(0);
  }, 240_000);

  it('five kills of a fencing and assignment store writer lose no acknowledged token', async () => {
    const result = await storeCrashCampaign({ baseDir: dir, kills: 5 });
    expect(result.kills).toBe(5);
    expect(result.ackedWrites).toBeGreaterThan(5);
    expect(result.lost).toBe(0);
    expect(result.wentBackwards).toBe(0);
  }, 120_000);
});
