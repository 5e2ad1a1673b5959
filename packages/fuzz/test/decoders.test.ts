import { protocolTargets, raftTargets, runTarget } from '@coxswain/fuzz';
import { describe, expect, it } from 'vitest';

// The short form of the campaign (bench/fuzz.ts runs 1,000,000): every decoder, a few hundred inputs each.
describe('every decoder survives hostile input', () => {
  for (const target of protocolTargets()) {
    it(`${target.name}: typed errors, no crash, nothing garbled accepted`, () => {
      const report = runTarget(target, {
        inputs: target.name.includes('config') ? 150 : 400,
        seed: 12,
      });
      expect(report.crashes).toEqual([]);
      expect(report.untypedRejections).toBe(0);
      expect(report.findings).toEqual({});
      expect(Object.keys(report.rejectedByCode).every((c) => /^COX_[A-Z_]+$/.test(c))).toBe(true);
      // Valid seeds are in the mix, so a decoder that refuses everything would fail here.
      expect(report.accepted).toBeGreaterThan(0);
    });
  }
  for (const target of raftTargets()) {
    it(`${target.name}: an error result, never a throw`, () => {
      const report = runTarget(target, { inputs: 1000, seed: 12 });
      expect(report.crashes).toEqual([]);
      expect(report.accepted).toBeGreaterThan(0);
      expect(report.inputs - report.accepted).toBeGreaterThan(0);
    });
  }
});
