/**
 * `coxswain chaos run|validate|list`: chaos experiments against a lab started
 * for the run (`--target lab`) or a real cluster (`--api URL...`). Exit codes:
 * 0 every repetition within its SLA, 1 an SLA or the steady state broke,
 * 2 an invalid file or target, 3 aborted by a guard or Ctrl-C (rollbacks run).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import {
  apiEnv,
  blastRadiusRefusal,
  type ChaosEnv,
  EventWatcher,
  ExperimentFileError,
  exitCodeOf,
  FAULT_CATALOGUE,
  type LoadedExperiment,
  loadExperiment,
  PROBE_CATALOGUE,
  preflight,
  prepareServices,
  renderJunit,
  renderReport,
  runExperiment,
  startLabFor,
  takesDown,
} from '@coxswain/chaos';
import type { Lab } from '@coxswain/lab';
import type { ChaosJournal, ChaosRepetition } from '@coxswain/protocol';
import type { Command } from 'commander';

interface RunFlags {
  repeat?: string;
  report: string;
  junit?: string;
  dryRun?: boolean;
  seed: string;
  target?: string;
  stateDir: string;
  api?: string[];
  token?: string;
  nats?: string[];
  docker?: string[];
  cluster: string;
  agentCommand?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Loads every file; any invalid one is printed (file:line:column field) and the run exits 2. */
function loadAll(files: readonly string[]): LoadedExperiment[] | undefined {
  const loaded: LoadedExperiment[] = [];
  let bad = false;
  for (const file of files) {
    try {
      loaded.push(loadExperiment(file));
    } catch (error) {
      if (!(error instanceof ExperimentFileError)) throw error;
      process.stderr.write(`${error.message}\n`);
      bad = true;
    }
  }
  return bad ? undefined : loaded;
}

/** The plan, and the blast radius of faults aimed at named hosts (the leader is known only when one fires). */
function dryRun(loaded: readonly LoadedExperiment[]): number {
  let code = 0;
  for (const { file, experiment: e } of loaded) {
    process.stdout.write(`${file}: ${e.title} (repeat ${e.repeat}, seed-driven)\n`);
    process.stdout.write(
      `  steady state: ${e.steadyState.probes.map((p) => `${p.name} (${p.type})`).join(', ')}\n`,
    );
    const down = new Set<string>();
    const voters = Array.from(
      { length: Math.min(3, e.target.lab?.hosts ?? 3) },
      (_, i) => `host-${i + 1}`,
    );
    for (const a of e.method) {
      if (a.type !== 'fault') {
        process.stdout.write(`  ${a.type}\n`);
        continue;
      }
      const host = 'host' in a.fault ? a.fault.host : undefined;
      const hit = host === 'leader' ? ['host-1'] : takesDown(a.fault, host);
      const refusal = blastRadiusRefusal({ voters, down }, hit, e.blastRadius);
      for (const h of hit) down.add(h);
      process.stdout.write(
        `  fault ${a.fault.kind}${host ? ` on ${host}` : ''}${refusal ? ` — REFUSED: ${refusal}` : ''}\n`,
      );
      if (refusal) code = 2;
    }
    process.stdout.write(
      `  SLA: detect ${e.sla.detect ?? '—'} ms, decide ${e.sla.decide ?? '—'} ms, recover ${e.sla.recover ?? '—'} ms\n`,
    );
  }
  return code;
}

function writeOutputs(
  journals: readonly ChaosJournal[],
  reportDir: string,
  junit: string | undefined,
): void {
  mkdirSync(reportDir, { recursive: true });
  for (const j of journals) {
    const name = basename(j.file).replace(/\.(ya?ml|json)$/, '');
    writeFileSync(join(reportDir, `journal-${name}.json`), `${JSON.stringify(j, null, 2)}\n`);
  }
  writeFileSync(join(reportDir, 'report.html'), renderReport(journals));
  if (junit) writeFileSync(junit, renderJunit(journals));
  process.stdout.write(
    `chaos: journals and report.html in ${resolve(reportDir)}${junit ? `, JUnit in ${junit}` : ''}\n`,
  );
}

async function envFor(
  flags: RunFlags,
  loaded: readonly LoadedExperiment[],
  signal: AbortSignal,
): Promise<{ env: ChaosEnv; lab?: Lab }> {
  if (flags.api && flags.api.length > 0) {
    const docker = Object.fromEntries(
      (flags.docker ?? []).map((d) => d.split(/=(.*)/s).slice(0, 2)),
    );
    return {
      env: await apiEnv({
        cluster: flags.cluster,
        urls: flags.api,
        token: flags.token ?? process.env.COXSWAIN_API_TOKEN,
        nats: flags.nats ?? [],
        docker,
      }),
    };
  }
  process.stderr.write('chaos: starting a lab for the run (hosts, engines, NATS, agents)...\n');
  const agentCommand = flags.agentCommand
    ? (JSON.parse(flags.agentCommand) as string[])
    : undefined;
  const { lab, env } = await startLabFor(loaded, {
    log: () => {},
    stateDir: flags.stateDir,
    ...(agentCommand ? { agentCommand } : {}),
  });
  if (signal.aborted) {
    await lab.stop();
    throw new Error('interrupted');
  }
  return { env, lab };
}

async function runCommandAction(files: string[], flags: RunFlags): Promise<number> {
  const loaded = loadAll(files);
  if (!loaded) return 2;
  const repeat = flags.repeat === undefined ? undefined : Number(flags.repeat);
  const seed = Number(flags.seed);
  if (
    (repeat !== undefined && (!Number.isInteger(repeat) || repeat < 1)) ||
    !Number.isInteger(seed)
  ) {
    process.stderr.write('coxswain chaos run: --repeat and --seed must be whole numbers\n');
    return 2;
  }
  if (flags.dryRun) return dryRun(loaded);
  if (flags.target !== undefined && flags.target !== 'lab') {
    process.stderr.write(
      `coxswain chaos run: --target must be lab, not ${flags.target} (a real cluster: --api URL...)\n`,
    );
    return 2;
  }
  const controller = new AbortController();
  const onSigint = () => {
    process.stderr.write('\nchaos: Ctrl-C, rolling back...\n');
    controller.abort('Ctrl-C');
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  let lab: Lab | undefined;
  const journals: ChaosJournal[] = [];
  try {
    let env: ChaosEnv;
    try {
      ({ env, lab } = await envFor(flags, loaded, controller.signal));
    } catch (error) {
      process.stderr.write(`coxswain chaos run: target: ${(error as Error).message}\n`);
      return controller.signal.aborted ? 3 : 2;
    }
    const events = await EventWatcher.start(env.cluster, env.natsUrls, env.natsClient);
    const tty = process.stderr.isTTY;
    try {
      for (const l of loaded) {
        if (controller.signal.aborted) break;
        // A refused experiment touches nothing: not even its services are declared.
        const refusals = await preflight(env, l);
        if (lab && refusals.length === 0) await prepareServices(env, l);
        process.stderr.write(`chaos: ${l.experiment.title} (${l.file})\n`);
        const journal = await runExperiment(l, {
          env,
          events,
          seed,
          ...(repeat !== undefined ? { repeat } : {}),
          signal: controller.signal,
          progress: (line) => {
            if (tty) process.stderr.write(`\r\x1b[2K${line}`);
          },
          // Each verdict as it comes: a --repeat 10 run takes minutes.
          repetitionEnded: (r) => {
            if (tty) process.stderr.write('\r\x1b[2K');
            process.stdout.write(`${repetitionLine(r)}\n`);
          },
        });
        if (tty) process.stderr.write('\r\x1b[2K');
        for (const r of journal.coxswain.refused) process.stdout.write(`  refused: ${r}\n`);
        process.stdout.write(`  ${journal.status} (exit ${exitCodeOf(journal)})\n`);
        journals.push(journal);
      }
    } finally {
      await events.close();
    }
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    if (lab) await lab.stop();
  }
  writeOutputs(journals, flags.report, flags.junit);
  if (controller.signal.aborted) return 3;
  return Math.max(0, ...journals.map(exitCodeOf));
}

export function registerChaosCommand(program: Command): void {
  const chaos = program
    .command('chaos')
    .description(
      'chaos experiments: kill, freeze, cut and slow parts of the cluster and check that it heals within its SLA',
    );
  chaos
    .command('run')
    .description(
      'run experiments; exit 0 all within SLA, 1 an SLA broke, 2 invalid file or target, 3 aborted',
    )
    .argument('<files...>', 'experiment files (YAML or JSON)')
    .option('--repeat <n>', "repetitions per experiment (overrides the file's repeat)")
    .option('--report <dir>', 'where journals and report.html go', '.state/chaos-report')
    .option('--junit <file>', 'write a JUnit XML file')
    .option('--dry-run', 'validate, print the plan and the blast radius; fire nothing')
    .option('--seed <s>', 'seed for random choices (which containers)', '1')
    .option('--target <lab>', 'start a lab for the run (the default without --api)')
    .option(
      '--state-dir <dir>',
      "the lab's state (agents' data and logs); one lab per directory",
      '.state/chaos-lab',
    )
    .option('--api <url>', "a real cluster's API (repeat per node)", collect)
    .option('--token <token>', 'API token for writes (default: $COXSWAIN_API_TOKEN)')
    .option('--nats <url>', "the cluster's NATS (repeat), for its events", collect)
    .option(
      '--docker <host=endpoint>',
      'a Docker engine per host (unix:///... or tcp://...)',
      collect,
    )
    .option('--cluster <name>', 'the cluster name with --api', 'default')
    .addOption(
      chaos
        .createOption('--agent-command <json>', "the lab agents' command line as a JSON array")
        .hideHelp(),
    )
    .action(async (files: string[], flags: RunFlags) => {
      process.exitCode = await runCommandAction(files, flags);
    });
  chaos
    .command('validate')
    .description(
      'check experiment files against the schema (exit 2 names file:line:column and field)',
    )
    .argument('<files...>')
    .action((files: string[]) => {
      const loaded = loadAll(files);
      if (loaded)
        for (const l of loaded) process.stdout.write(`${l.file}: ok (${l.experiment.title})\n`);
      process.exitCode = loaded ? 0 : 2;
    });
  chaos
    .command('list')
    .description('every fault and probe with its parameters')
    .action(() => {
      process.stdout.write('faults:\n');
      for (const f of FAULT_CATALOGUE)
        process.stdout.write(`  ${f.kind.padEnd(18)} [${f.providers}]  ${f.params}\n`);
      process.stdout.write('probes:\n');
      for (const p of PROBE_CATALOGUE)
        process.stdout.write(
          `  ${p.type.padEnd(18)} ${p.params ? `(${p.params}) ` : ''}${p.about}\n`,
        );
    });
}

/** One repetition's verdict and phases against their SLAs. */
function repetitionLine(r: ChaosRepetition): string {
  const phases = r.phases
    .map(
      (p) =>
        `${p.phase} ${p.ms === null ? '—' : `${Math.round(p.ms)} ms`}${p.slaMs === null ? '' : `/${p.slaMs}`}${p.met ? '' : ' ✗'}`,
    )
    .join(', ');
  return `  rep ${r.index}: ${r.verdict} — ${phases}${r.verdict === 'passed' ? '' : ` (${r.reason})`}`;
}
