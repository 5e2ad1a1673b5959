// The 1,000-host soak of issue #12 item 6: `pnpm --filter ./bench bench soak [--hosts 1000]
// [--services 20] [--minutes 10] [--processes 4] [--cpu-prof DIR]`. Three voters (`coxswain
// agent` from the CLI's build) and the simulated hosts of lib/soak-hosts.ts on one nats-server;
// the run itself is lib/soak-run.ts, its figures lib/soak-figures.ts. The short form is
// bench/test/soak.test.ts.
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { recordResult } from './lib/results.js';
import { soakFigures } from './lib/soak-figures.js';
import { HOSTS_NICE, runSoak } from './lib/soak-run.js';

const fmt = (x: number | undefined, digits = 3): string =>
  x === undefined || Number.isNaN(x) ? 'n/a' : x.toFixed(digits);

export async function run(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(process.argv.indexOf('soak') + 1),
    options: {
      hosts: { type: 'string', default: '1000' },
      services: { type: 'string', default: '20' },
      minutes: { type: 'string', default: '10' },
      processes: { type: 'string', default: '4' },
      'cpu-prof': { type: 'string' },
    },
    allowPositionals: true,
  });
  const hosts = Number(values.hosts);
  const services = Number(values.services);
  const minutes = Number(values.minutes);
  const processes = Number(values.processes);
  for (const [name, v] of Object.entries({ hosts, services, minutes, processes }))
    if (!Number.isFinite(v) || v <= 0) throw new Error(`soak: --${name} must be a positive number`);
  const load = (): string =>
    loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
  const loadBefore = load();
  const profDir = values['cpu-prof'];
  const result = await runSoak({
    hosts,
    services,
    processes,
    durationMs: minutes * 60_000,
    ...(profDir ? { voterNodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`] } : {}),
    log: (line) => console.log(line),
  });
  const loadAfter = load();
  const { figures, slopes, flat } = soakFigures(result, { warmupS: 120 });
  recordResult({
    benchmark: 'soak',
    title: 'soak',
    figures,
    notes: [
      `${hosts} simulated hosts × ${services} services reporting at 1 Hz for ${minutes} min to 3 voters, one nats-server, all on this machine. The voters are \`coxswain agent\` processes from the CLI's build, each with its own data dir and API, run as a user runs them but with no Docker engine (the agent starts without one and retries it; their reports say dockerReachable false). Placement gives no replica to a node whose engine is unreachable (${result.voterCommands} commands reached a voter).`,
      `The simulated hosts are ${processes} OS processes (lib/soak-hosts.ts), one NATS connection per host; each publishes a NodeReport (encoded through the protocol's schema) on its own subject every second with one container entry per replica and the figures of each service it runs, and answers ScaleCommands on its own command subject as an agent does (fencing-token check, retries by id, ScaleReply), with the new count in its next report. Each service has an hpa policy on requests per replica (target 10, no scale-down window) and a request rate the driver sets; every 20 s a fifth of the services step by ×1.5 or ÷1.5 (20..300 req/s), so the leader decides and commands through the whole run.`,
      `Reports lost: reports the hosts published (counted after each publish returned) plus the voters' own (\`coxswain_reports_published_total\`) minus \`coxswain_reports_received_total\` on the leader at the end (report messages NATS delivered to it, decoded or not; every voter receives every report), read after the hosts stopped and 3 s of drain; "decoded and taken in while leading" is \`coxswain_reports_accepted_total{role="client"}\`, which misses what arrived while it did not lead. Decision latency: from a load step to the leader's issuedAt of the first command for that service after it (hosts report within 1 s of a step, so up to 1 s of it is the report interval); steps with no command before the service's next step (held by the policy's rate limits or at a bound) are counted, not timed. Command round trip: the command's issuedAt (leader's clock) to the host's reply (same machine, same clock), every command; the leader's own histogram (coxswain_command_round_trip_seconds) is in the JSON. CPU and RSS: /proc/<pid>/stat and status of every voter every 5 s; CPU is percent of one core; the leader's figures are the samples of whichever voter led at the time. Memory slope: least squares over each voter's samples after the first ${120 / 60} min; "flat" means every voter under 0.5 MiB/min (a leak on the leader shows on whichever voter led). The simulated hosts' processes run at nice ${HOSTS_NICE} (the voters and nats-server at 0): they stand for a thousand other machines, and at nice 0 they took the voters' CPU on these two shared cores.`,
      `Memory: slope after warm-up ${Object.entries(slopes)
        .map(([v, x]) => `${v} ${x.toFixed(3)}`)
        .join(
          ', ',
        )} MiB/min: ${flat ? 'flat' : 'NOT flat'}. First leader ${result.firstLeader}, leader at the end ${result.leader}; elections logged ${result.leaderChanges}; voter exits: ${result.voterExits.length === 0 ? 'none' : result.voterExits.join('; ')}.`,
      `Context, not measured here: Nomad's published claim is 10,000 clients per server cluster (HashiCorp's Nomad documentation on scaling; their claim, on their hardware). This run is one tenth of that on a shared 2-core machine, with the voters, nats-server and the simulated hosts all on it.`,
      `Per voter at the end (/metrics; event-loop lag from prom-client's histogram since start, s): ${Object.entries(
        result.voterMetrics,
      )
        .map(
          ([id, m]) =>
            `${id} lag p50 ${fmt(m.nodejs_eventloop_lag_p50_seconds)} p99 ${fmt(m.nodejs_eventloop_lag_p99_seconds)} max ${fmt(m.nodejs_eventloop_lag_max_seconds)}, CPU ${fmt(m.process_cpu_seconds_total, 0)} s, reports received ${m.coxswain_reports_received_total ?? 'n/a'} decoded ${m.coxswain_reports_decoded_total ?? 'n/a'}`,
        )
        .join('; ')}.`,
      `Load average before ${loadBefore}, after ${loadAfter} (2 cores, shared with other engineers' labs).`,
    ].join('\n\n'),
    samples: {
      proc: result.samples,
      steps: result.steps,
      progress: result.progress,
      voterMetrics: result.voterMetrics,
      commandRoundTripBuckets: result.commandBuckets,
      leaderCommands: Object.fromEntries(
        Object.entries(result.leaderMetrics).filter(([k]) =>
          /^coxswain_(commands_total|reports_accepted_total|decision_duration_seconds_(sum|count))/.test(
            k,
          ),
        ),
      ),
    },
  });
  console.log(
    `soak: sent ${result.sent}, accepted ${result.accepted}, lost ${result.lost}; ${result.commands} commands; memory slopes ${Object.entries(
      slopes,
    )
      .map(([v, x]) => `${v} ${x.toFixed(3)}`)
      .join(', ')} MiB/min (${flat ? 'flat' : 'not flat'})`,
  );
}
