/**
 * `coxswain chaos validate|list|run --dry-run` as a user runs them (the real
 * CLI, from source): a malformed file exits 2 naming file:line and the field;
 * a plan that would break quorum is refused unless the file allows it.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { makeTempDir, removeDir } from '@coxswain/testkit';
import { afterAll, describe, expect, it } from 'vitest';

const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const bin = fileURLToPath(new URL('../packages/cli/src/bin.ts', import.meta.url));
const experiments = fileURLToPath(new URL('../chaos/experiments/', import.meta.url));
const dir = makeTempDir('cxchaos-cli-');
afterAll(() => removeDir(dir));

function cli(...args: string[]) {
  const r = spawnSync(
    process.execPath,
    ['--conditions=@coxswain/source', '--import', tsx, bin, 'chaos', ...args],
    { encoding: 'utf8', timeout: 60_000 },
  );
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const quorumBreaker = (allow: boolean) => `title: two voters down
steadyState:
  title: one leader
  probes:
    - { name: one-leader, type: leader }
method:
  - type: fault
    fault: { kind: host-kill, host: host-2 }
  - type: fault
    fault: { kind: host-kill, host: host-3 }
blastRadius: { maxHostsDown: 2, allowQuorumLoss: ${allow} }
`;

describe('coxswain chaos (CLI)', () => {
  it('validate accepts every shipped experiment', () => {
    const r = cli(
      'validate',
      ...['kill-container', 'kill-host', 'pause-leader', 'latency-on-leader'].map(
        (n) => `${experiments}${n}.yaml`,
      ),
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/kill-container\.yaml: ok/);
  });

  it('a malformed file exits 2 and names file:line:column and the field', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      'title: bad\nsteadyState:\n  title: s\n  probes:\n    - { name: r, type: replicas, service: web }\nmethod:\n  - type: fault\n    fault: { kind: container-kill, service: web, count: -2 }\n',
    );
    const r = cli('validate', file);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      new RegExp(`${file.replace(/[/.]/g, '\\$&')}:8:\\d+: method\\[0\\]\\.fault\\.count: `),
    );
    const run = cli('run', file, '--dry-run');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/bad\.yaml:8:\d+: method\[0\]\.fault\.count/);
  });

  it('a YAML syntax error exits 2 naming its line', () => {
    const file = join(dir, 'syntax.yaml');
    writeFileSync(file, 'title: x\nmethod: [\n  { type: pause\n');
    const r = cli('validate', file);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/syntax\.yaml:\d+:\d+: \(file\): /);
  });

  it('--dry-run refuses a plan that would break quorum, unless the file allows it', () => {
    const refused = join(dir, 'quorum.yaml');
    writeFileSync(refused, quorumBreaker(false));
    const r = cli('run', refused, '--dry-run');
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(
      /fault host-kill on host-3 — REFUSED: 1 of 3 voters would stay live, fewer than a quorum of 2/,
    );
    const allowed = join(dir, 'quorum-allowed.yaml');
    writeFileSync(allowed, quorumBreaker(true));
    const ok = cli('run', allowed, '--dry-run');
    expect(ok.code).toBe(0);
    expect(ok.stdout).not.toMatch(/REFUSED/);
  });

  it('list names every fault and probe with its parameters', () => {
    const r = cli('list');
    expect(r.code).toBe(0);
    for (const word of [
      'container-kill',
      'agent-freeze',
      'host-cut',
      'netem',
      'nats-stop',
      'cpu-stress',
      'fencing-audit',
      'prometheus',
    ])
      expect(r.stdout).toContain(word);
  });
});
