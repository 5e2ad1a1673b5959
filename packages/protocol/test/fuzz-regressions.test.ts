import {
  AgentConfig,
  ByteSize,
  ClusterEvent,
  DurationMs,
  decode,
  decodeYaml,
  encode,
  ServiceSpec,
} from '@coxswain/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

// Inputs the fuzz campaign found accepted (or hanging) before the fixes, kept as regressions.
describe('fuzz regressions', () => {
  it('durations and sizes written with too many digits are refused, not Infinity', () => {
    expect(DurationMs.safeParse(`${'9'.repeat(400)}h`).success).toBe(false);
    expect(DurationMs.safeParse('25d').success).toBe(false);
    expect(DurationMs.safeParse(3_000_000_000).success).toBe(false);
    expect(DurationMs.safeParse('1.5m').data).toBe(90_000);
    expect(ByteSize.safeParse(`${'9'.repeat(400)}g`).success).toBe(false);
    expect(ByteSize.safeParse('256m').data).toBe(256 * 1024 ** 2);
  });

  it('event data and policy params nested 100,000 deep are refused before anything stringifies them', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const event = `{"v":1,"type":"node.dead","time":1,"nodeId":"n1","message":"m","data":{"x":${deep}}}`;
    const r = decode(ClusterEvent, event, { maxBytes: 1e6 });
    expect(r.ok || r.error.message).toMatch(/at data: nested deeper than 32 levels/);
    const spec = `{"name":"w","image":"i","policy":{"name":"p","params":{"x":${deep}}}}`;
    expect(decode(ServiceSpec, spec, { maxBytes: 1e6 }).ok).toBe(false);
  });

  it('YAML that used to hang the parser is refused by size or depth at once', () => {
    const keys = `{${'"k":1,'.repeat(700_000)}"k":1}`;
    const big = decodeYaml(AgentConfig, keys, { where: 'agent.yaml' });
    expect(big.ok || big.error.code).toBe('COX_PAYLOAD_TOO_LARGE');
    const deep = decodeYaml(AgentConfig, `nodeId: ${'['.repeat(10_000)}${']'.repeat(10_000)}`);
    expect(deep.ok || deep.error.message).toMatch(/nested deeper than 64 levels/);
    // Brackets inside quotes do not count.
    expect(decodeYaml(AgentConfig, `nodeId: n1\naddress: "${'['.repeat(100)}"\n`).ok).toBe(true);
  });

  it('any accepted event re-encodes and decodes to the same value', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 40 }), fc.string(), (data, message) => {
        const text = JSON.stringify({
          v: 1,
          type: 'chaos.fault',
          time: 1,
          nodeId: 'n',
          message,
          data: { data },
        });
        const r = decode(ClusterEvent, text);
        if (!r.ok) return r.error.code === 'COX_INVALID_PAYLOAD';
        const again = decode(ClusterEvent, encode(ClusterEvent, r.value));
        return again.ok && JSON.stringify(again.value) === JSON.stringify(r.value);
      }),
      { numRuns: 300 },
    );
  });
});

describe('fuzz regressions: wide arrays', () => {
  it('an array of 260,000 wrong values under a union is refused, not a stack overflow', async () => {
    const { ApiReply } = await import('@coxswain/protocol');
    const command = `[${'0,'.repeat(260_000)}0]`;
    const text = `{"v":1,"ok":true,"servedBy":"n1","leaderId":null,"state":{"v":1,"clockMs":1,"appliedIndex":1,"services":{"web":{"spec":{"name":"web","image":"i","command":${command}},"specVersion":1,"desiredReplicas":1,"manualReplicas":null,"placement":{},"placementToken":0,"updatedAtMs":0}},"locks":{},"commands":[],"nodes":{},"settings":{}}}`;
    const r = decode(ApiReply, text, { maxBytes: 1e6 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('COX_INVALID_PAYLOAD');
  });
});
