// `coxswain lab --policy`: the flag's check, and each policy's params as the demo declares them,
// validated by the policy's own schema (what the leader does with a spec's params).

import { join } from 'node:path';
import { createPolicyRunner, HpaParams } from '@coxswain/forecast';
import { DEMO_SAMPLES_DIR, loadServiceSpec } from '@coxswain/lab';
import { describe, expect, it } from 'vitest';
import { DEMO_POLICIES, demoPolicyRef, parseDemoPolicy } from '../src/commands/lab-demo-policy.js';
import { UsageError } from '../src/errors.js';

const order = loadServiceSpec(join(DEMO_SAMPLES_DIR, 'order.yaml'));

describe('parseDemoPolicy', () => {
  it('defaults to predictive and accepts every policy by name', () => {
    expect(parseDemoPolicy(undefined)).toBe('predictive');
    for (const name of DEMO_POLICIES) expect(parseDemoPolicy(name)).toBe(name);
  });

  it('refuses an unknown name, listing the known ones', () => {
    expect(() => parseDemoPolicy('kpa')).toThrow(UsageError);
    expect(() => parseDemoPolicy('kpa')).toThrow(/--policy must be one of predictive, hpa.*"kpa"/);
  });
});

describe('demoPolicyRef', () => {
  it('keeps the spec’s own predictive settings under predictive', () => {
    expect(demoPolicyRef(order, 'predictive')).toEqual(order.policy);
  });

  it('gives hpa its shipped defaults with the spec’s scale-down hold (20 s, not 300 s)', () => {
    const ref = demoPolicyRef(order, 'hpa');
    expect(ref.name).toBe('hpa');
    const params = HpaParams.parse(ref.params);
    const defaults = HpaParams.parse({});
    expect(params.scaleDown.stabilizationWindowSeconds).toBe(20);
    expect(defaults.scaleDown.stabilizationWindowSeconds).toBe(300);
    expect({ ...params, scaleDown: undefined }).toEqual({ ...defaults, scaleDown: undefined });
    expect(params.scaleDown.policies).toEqual(defaults.scaleDown.policies);
  });

  it('declares params every policy accepts', () => {
    for (const name of DEMO_POLICIES) {
      const ref = demoPolicyRef(order, name);
      expect(ref.name).toBe(name);
      expect(() => createPolicyRunner(ref.name, ref.params)).not.toThrow();
    }
  });
});
