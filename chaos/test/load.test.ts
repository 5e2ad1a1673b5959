import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ExperimentFileError, loadExperiment, parseExperiment } from '../src/index.js';

const minimal = `title: t
steadyState:
  title: s
  probes:
    - { name: r, type: replicas, service: web }
method:
  - type: fault
    fault: { kind: container-kill, service: web, count: 1 }
`;

function problemsOf(text: string) {
  try {
    parseExperiment('x.yaml', text);
  } catch (error) {
    expect(error).toBeInstanceOf(ExperimentFileError);
    return (error as ExperimentFileError).problems;
  }
  throw new Error('expected the file to be refused');
}

describe('experiment files', () => {
  it('parses a minimal file and fills the defaults', () => {
    const { experiment: e } = parseExperiment('x.yaml', minimal);
    expect(e.repeat).toBe(1);
    expect(e.blastRadius).toEqual({ maxHostsDown: 1, allowQuorumLoss: false });
    expect(e.method[0]).toMatchObject({
      type: 'fault',
      fault: { kind: 'container-kill', provider: 'lab' },
    });
    expect(e.recoverTimeout).toBe(60_000);
  });

  it('reads durations written as text', () => {
    const { experiment: e } = parseExperiment(
      'x.yaml',
      `${minimal}sla: { detect: 1.5s, recover: 250ms }\npauseBetween: 2m\n`,
    );
    expect(e.sla.detect).toBe(1500);
    expect(e.sla.recover).toBe(250);
    expect(e.pauseBetween).toBe(120_000);
  });

  it('names file:line:column and the field of a wrong value', () => {
    const text = minimal.replace('kind: container-kill', 'kind: container-explode');
    const [p] = problemsOf(text);
    expect(p?.field).toBe('method[0].fault.kind');
    expect(p?.line).toBe(8);
    const err = ((): ExperimentFileError | undefined => {
      try {
        parseExperiment('x.yaml', text);
        return undefined;
      } catch (e) {
        return e as ExperimentFileError;
      }
    })();
    expect(err?.message).toMatch(/^x\.yaml:8:\d+: method\[0\]\.fault\.kind: /);
    expect(err?.code).toBe('COX_CHAOS_INVALID_FILE');
  });

  it('names an unknown field and a missing one', () => {
    const unknown = problemsOf(minimal.replace('title: t', 'title: t\nrepeats: 3'));
    expect(unknown[0]?.message).toMatch(/repeats/);
    const missing = problemsOf(minimal.replace('title: t\n', ''));
    expect(missing.map((p) => p.field)).toContain('title');
    expect(missing[0]?.line).toBe(1);
  });

  it('names the line of a YAML syntax error', () => {
    const [p] = problemsOf('title: t\nmethod: [\n  {a: 1\n');
    expect(p?.field).toBe('(file)');
    expect(p?.line).toBeGreaterThanOrEqual(2);
  });

  it('refuses a repeat of zero and a percentage over 100', () => {
    expect(problemsOf(`${minimal}repeat: 0\n`)[0]?.field).toBe('repeat');
    expect(problemsOf(minimal.replace('count: 1', 'percent: 150'))[0]?.field).toBe(
      'method[0].fault.percent',
    );
  });

  it('validates every shipped experiment', () => {
    const dir = fileURLToPath(new URL('../experiments/', import.meta.url));
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(10);
    for (const f of files)
      expect(loadExperiment(`${dir}${f}`).experiment.title).toBe(f.replace('.yaml', ''));
  });

  it('aims a host fault by name, at the leader, or at a follower running a service', () => {
    const withHost = (host: string) =>
      minimal.replace(
        '{ kind: container-kill, service: web, count: 1 }',
        `{ kind: host-kill, host: "${host}" }`,
      );
    for (const host of ['host-2', 'leader', 'runs:web'])
      expect(parseExperiment('x.yaml', withHost(host)).experiment.method[0]).toMatchObject({
        fault: { host },
      });
    expect(problemsOf(withHost('runs:Web!'))[0]?.field).toBe('method[0].fault.host');
  });

  it('names a missing file', () => {
    expect(() => loadExperiment('/nonexistent/exp.yaml')).toThrow(
      /\/nonexistent\/exp\.yaml:0:0: \(file\)/,
    );
  });
});
