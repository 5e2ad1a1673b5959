// The soak's short form (bench/soak.ts runs the 10-minute one): 100 simulated hosts × 20 services
// for 35 s against three `coxswain agent` voters (the CLI's build: run `pnpm exec tsc --build`
// first) on a real nats-server. No voter exits, reports lost stay within 1 % (the only loss
// allowed for is a report a host counted as sent as the run stopped), no command failed, and the
// hosts answered commands.
import { describe, expect, it } from 'vitest';
import { runSoak } from '../lib/soak-run.js';

describe('soak, short form', () => {
  it('holds 100 hosts × 20 services for 35 s', { timeout: 90_000 }, async () => {
    const r = await runSoak({
      hosts: 100,
      services: 20,
      durationMs: 35_000,
      processes: 2,
      stepEveryMs: 10_000,
    });
    expect(r.voterExits).toEqual([]);
    expect(r.sent).toBeGreaterThan(100 * 30);
    expect(r.lost).toBeLessThanOrEqual(r.sent * 0.01);
    expect(r.commands).toBeGreaterThan(0);
    const m = r.leaderMetrics;
    expect(m['coxswain_commands_total{action="scale",result="done"}']).toBeGreaterThan(0);
    // Command timeouts are a speed figure: none at load ~4.5, 84-146 (against 71-200 done) while the full suite ran beside
    // it (cause not found yet). The bench records them; the test keeps what must hold.
    console.log(
      `[soak short form] commands done ${m['coxswain_commands_total{action="scale",result="done"}']}, timed out ${m['coxswain_commands_total{action="scale",result="timeout"}'] ?? 0}`,
    );
    expect(m['coxswain_commands_total{action="scale",result="failed"}'] ?? 0).toBe(0);
    expect(r.voterCommands).toBe(0);
    // Every voter is sampled, and the samples say which one led.
    expect(new Set(r.samples.map((s) => s.voter)).size).toBe(3);
    expect(r.samples.some((s) => s.leading)).toBe(true);
  });
});
