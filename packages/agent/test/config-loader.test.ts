import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAgentConfig, mergeAndValidate, overridesFromEnv } from '../src/config-loader.js';
import { AgentConfigError } from '../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'cox-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('loadAgentConfig', () => {
  it('reads the file, then env overrides it, then flags override env', async () => {
    const path = file(
      'a.yaml',
      'nodeId: n1\ncluster: lab\napi:\n  port: 7000\n  host: 127.0.0.1\nsampleIntervalMs: 2s\n',
    );
    const config = await loadAgentConfig({
      file: path,
      env: {
        COXSWAIN_CLUSTER: 'fromenv',
        COXSWAIN_API_PORT: '7100',
        COXSWAIN_NATS: 'nats://a:4222, nats://b:4222',
      },
      flags: { 'api.port': 7200, nodeId: undefined },
    });
    expect(config.nodeId).toBe('n1');
    expect(config.cluster).toBe('fromenv');
    expect(config.api).toMatchObject({ port: 7200, host: '127.0.0.1' });
    expect(config.nats.servers).toEqual(['nats://a:4222', 'nats://b:4222']);
    expect(config.sampleIntervalMs).toBe(2000);
  });
  it('sets the lock lease, command timeout, clock-skew bound and span ring size from the file and env', async () => {
    const path = file(
      'c.yaml',
      'nodeId: n1\ncoordinator:\n  lockLeaseMs: 8s\n  commandTimeoutMs: 3s\ntelemetry:\n  spanRingSize: 500\n',
    );
    const config = await loadAgentConfig({
      file: path,
      env: { COXSWAIN_MAX_CLOCK_SKEW: '250ms', COXSWAIN_COMMAND_TIMEOUT: '4s' },
      flags: {},
    });
    expect(config.coordinator).toEqual({
      lockLeaseMs: 8000,
      commandTimeoutMs: 4000,
      maxClockSkewMs: 250,
    });
    expect(config.telemetry).toEqual({ spanRingSize: 500 });
  });

  it('names the file and the path of a bad field', async () => {
    const path = file('b.yaml', 'nodeId: n1\nlog:\n  level: chatty\n');
    await expect(loadAgentConfig({ file: path })).rejects.toThrow(
      new RegExp(`^${path}: invalid agent config: at log\\.level: `),
    );
  });
  it('says when a bad value came from an env var or a flag', () => {
    const error = (() => {
      try {
        mergeAndValidate(
          { nodeId: 'n1' },
          'x.yaml',
          overridesFromEnv({ COXSWAIN_API_PORT: 'eighty' }),
          { cluster: 'A.B' },
        );
      } catch (e) {
        return e as AgentConfigError;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(AgentConfigError);
    expect(error!.code).toBe('COX_BAD_CONFIG');
    expect(error!.message).toContain('at api.port: ');
    expect(error!.message).toContain('(set by env COXSWAIN_API_PORT)');
    expect(error!.message).toContain('at cluster: ');
    expect(error!.message).toContain('(set by a command-line flag)');
  });
  it('refuses unknown keys, unreadable files and broken YAML with the file named', async () => {
    await expect(
      loadAgentConfig({ file: file('c.yaml', 'nodeId: n1\nnodeid: typo\n') }),
    ).rejects.toThrow(/c\.yaml: invalid agent config: at \(root\)/);
    await expect(loadAgentConfig({ file: join(dir, 'missing.yaml') })).rejects.toThrow(
      /missing\.yaml: cannot read/,
    );
    await expect(loadAgentConfig({ file: file('d.yaml', 'nodeId: [x\n') })).rejects.toThrow(
      /d\.yaml: not valid YAML/,
    );
    await expect(loadAgentConfig({ file: file('e.yaml', '- a\n- b\n') })).rejects.toThrow(
      /e\.yaml: at \(root\): expected a mapping/,
    );
  });
});
