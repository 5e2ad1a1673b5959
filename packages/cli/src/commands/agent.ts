/**
 * `coxswain agent`: runs the agent on this host until SIGINT or SIGTERM.
 * Settings come from the config file, then COXSWAIN_* variables, then flags.
 */
import { join } from 'node:path';
import {
  Agent,
  AgentConfigError,
  ENV_VARS,
  FencingStore,
  FencingStoreInUseError,
  loadAgentConfig,
  NatsCredentialsError,
} from '@coxswain/agent';
import type { Command } from 'commander';
import { type NatsFlags, natsSecurityFlags } from './nats-connect.js';

const collect = (value: string, previous: string[] = []): string[] => [
  ...previous,
  ...value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

interface AgentFlags extends NatsFlags {
  config?: string;
  nodeId?: string;
  cluster?: string;
  address?: string;
  dockerSocket?: string;
  apiHost?: string;
  apiPort?: string;
  dataDir?: string;
  sampleInterval?: string;
  voters?: string[];
  logLevel?: string;
  logFormat?: string;
  join?: boolean;
}

/** Flag values keyed by config path; numbers stay text when malformed so the schema names them. */
function overridesFromFlags(flags: AgentFlags): Record<string, unknown> {
  const num = (v: string | undefined) =>
    v !== undefined && /^\d+(\.\d+)?$/.test(v) ? Number(v) : v;
  return {
    nodeId: flags.nodeId,
    cluster: flags.cluster,
    address: flags.address,
    'nats.servers': flags.nats && flags.nats.length > 0 ? flags.nats : undefined,
    'nats.tls.caFile': flags.natsCa,
    'nats.tls.certFile': flags.natsCert,
    'nats.tls.keyFile': flags.natsKey,
    'nats.nkeySeedFile': flags.natsNkeySeedFile,
    'nats.credsFile': flags.natsCredsFile,
    'docker.socketPath': flags.dockerSocket,
    'api.host': flags.apiHost,
    'api.port': num(flags.apiPort),
    dataDir: flags.dataDir,
    sampleIntervalMs: num(flags.sampleInterval),
    voters: flags.voters && flags.voters.length > 0 ? flags.voters : undefined,
    'log.level': flags.logLevel,
    'log.format': flags.logFormat,
    join: flags.join,
  };
}

export function registerAgentCommand(program: Command): void {
  const agent = program.command('agent');
  registerResetFencing(agent);
  agent
    .description('run the coxswain agent on this host (Docker driver, sampler, reporter, HTTP API)')
    .option(
      '-c, --config <file>',
      'agent config file (YAML); flags and COXSWAIN_* variables override it',
    )
    .option(
      '--node-id <id>',
      'this node\'s id (letters, digits, "-", "_"); required here or in the file [COXSWAIN_NODE_ID]',
    )
    .option(
      '--cluster <name>',
      'cluster name, the NATS subject prefix cox.<cluster> (default: "default") [COXSWAIN_CLUSTER]',
    )
    .option(
      '--address <host>',
      "address others use to reach this node's API (default: 127.0.0.1) [COXSWAIN_ADDRESS]",
    )
    .option(
      '--nats <url>',
      'NATS server URL; repeat or comma-separate for several (default: nats://127.0.0.1:4222) [COXSWAIN_NATS]',
      collect,
    );
  natsSecurityFlags(agent)
    .option(
      '--docker-socket <path>',
      'Docker Engine socket (default: /var/run/docker.sock) [COXSWAIN_DOCKER_SOCKET]',
    )
    .option(
      '--join',
      'join an existing cluster (replacing a lost voter) without bootstrapping; then run `coxswain voter add` [COXSWAIN_JOIN]',
    )
    .option('--api-host <host>', 'HTTP API listen address (default: 0.0.0.0) [COXSWAIN_API_HOST]')
    .option(
      '--api-port <port>',
      'HTTP API port; 0 picks a free one (default: 7070) [COXSWAIN_API_PORT]',
    )
    .option(
      '--data-dir <dir>',
      'directory for durable state (default: /var/lib/coxswain) [COXSWAIN_DATA_DIR]',
    )
    .option(
      '--sample-interval <duration>',
      'how often to sample and report, e.g. 1s, 500ms (default: 1s) [COXSWAIN_SAMPLE_INTERVAL]',
    )
    .option(
      '--voters <ids>',
      'node ids of the Raft voters, comma-separated (default: none) [COXSWAIN_VOTERS]',
      collect,
    )
    .option(
      '--log-level <level>',
      'debug, info, warn or error (default: info) [COXSWAIN_LOG_LEVEL]',
    )
    .option(
      '--log-format <format>',
      'auto (JSON unless stdout is a terminal), json or pretty (default: auto) [COXSWAIN_LOG_FORMAT]',
    )
    .addHelpText(
      'after',
      `\nEnvironment variables (override the file, overridden by flags):\n${Object.entries(ENV_VARS)
        .map(([name, { path }]) => `  ${name.padEnd(26)} ${path}`)
        .join(
          '\n',
        )}\n\nSIGINT or SIGTERM stops the agent gracefully (drains NATS, closes the Docker event stream and the API).`,
    )
    .action(async (flags: AgentFlags) => {
      let agent: Agent;
      try {
        const config = await loadAgentConfig({
          ...(flags.config !== undefined ? { file: flags.config } : {}),
          env: process.env,
          flags: overridesFromFlags(flags),
        });
        agent = await Agent.start(config);
      } catch (error) {
        if (error instanceof AgentConfigError || error instanceof NatsCredentialsError) {
          process.stderr.write(`coxswain agent: ${error.message}\n`);
          process.exit(2);
        }
        process.stderr.write(
          `coxswain agent: failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
        );
        process.exit(1);
      }
      let stopping = false;
      const shutdown = (signal: NodeJS.Signals): void => {
        if (stopping) {
          // A second signal means "now".
          process.exit(130);
        }
        stopping = true;
        agent.logger.info('stopping', { signal });
        const force = setTimeout(() => process.exit(1), 10_000);
        force.unref();
        agent.stop().then(
          () => process.exit(0),
          (error: unknown) => {
            agent.logger.error('stop failed', { error });
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', shutdown);
      process.on('SIGTERM', shutdown);
    });
}

/**
 * `coxswain agent reset-fencing SERVICE`: repairs a fencing store poisoned by a
 * forged or mistaken huge token. The agent must be stopped (its store in
 * memory would write the old value back); the change goes to stdout and to
 * `<dataDir>/fencing/resets.log`.
 */
function registerResetFencing(agent: Command): void {
  agent
    .command('reset-fencing <service>')
    .description(
      "forget (or lower) a service's highest fencing token on this host; the agent must be stopped",
    )
    .option('-c, --config <file>', 'agent config file (for dataDir)')
    .option('--data-dir <dir>', "the agent's data directory [COXSWAIN_DATA_DIR]")
    .option('--to <token>', 'set the highest token to this instead of forgetting it', '0')
    .option(
      '--yes',
      "really do it (a deposed leader's old token passes again until the leader's next command)",
    )
    .action(
      async (
        service: string,
        own: { config?: string; dataDir?: string; to: string; yes?: boolean },
        command: Command,
      ) => {
        // `agent` has --config and --data-dir too, and commander gives them to it.
        const flags = command.optsWithGlobals<typeof own>();
        const fail = (message: string, code: number): never => {
          process.stderr.write(`coxswain agent reset-fencing: ${message}\n`);
          process.exit(code);
        };
        if (!/^\d+$/.test(flags.to))
          fail(`--to must be a non-negative integer, not ${flags.to}`, 2);
        let dataDir = flags.dataDir ?? process.env.COXSWAIN_DATA_DIR;
        if (dataDir === undefined && flags.config !== undefined) {
          try {
            dataDir = (await loadAgentConfig({ file: flags.config, env: {}, flags: {} })).dataDir;
          } catch (error) {
            fail((error as Error).message, 2);
          }
        }
        if (dataDir === undefined)
          fail("name the agent's data directory: --data-dir or --config", 2);
        if (!flags.yes) fail(`refusing without --yes (would reset ${service} in ${dataDir})`, 2);
        try {
          const entry = await FencingStore.reset(
            join(dataDir!, 'fencing'),
            service,
            Number(flags.to),
          );
          process.stdout.write(
            `reset fencing token of ${service} in ${dataDir}: ${entry.from} -> ${entry.to}\n`,
          );
        } catch (error) {
          fail((error as Error).message, error instanceof FencingStoreInUseError ? 1 : 2);
        }
      },
    );
}
