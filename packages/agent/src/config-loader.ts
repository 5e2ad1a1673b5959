/**
 * Loads the agent's configuration: the YAML file, then COXSWAIN_* environment
 * variables, then command-line flags (each overrides the one before), validated
 * once with the AgentConfig schema. An error names the file and the field, and
 * says when the bad value came from a variable or a flag rather than the file.
 */
import { readFile } from 'node:fs/promises';
import { type AgentConfig, AgentConfig as AgentConfigSchema, formatPath } from '@coxswain/protocol';
import { parse as parseYaml } from 'yaml';
import { AgentConfigError } from './errors.js';

/** Overrides by config path (dotted), e.g. `nats.servers`, `api.port`. */
export type ConfigOverrides = Readonly<Record<string, unknown>>;

/** Environment variable → config path; lists are comma-separated. */
export const ENV_VARS: Readonly<
  Record<string, { path: string; kind: 'string' | 'list' | 'int' | 'duration' | 'bool' }>
> = {
  COXSWAIN_NODE_ID: { path: 'nodeId', kind: 'string' },
  COXSWAIN_CLUSTER: { path: 'cluster', kind: 'string' },
  COXSWAIN_ADDRESS: { path: 'address', kind: 'string' },
  COXSWAIN_VOTERS: { path: 'voters', kind: 'list' },
  COXSWAIN_NATS: { path: 'nats.servers', kind: 'list' },
  COXSWAIN_NATS_USER: { path: 'nats.user', kind: 'string' },
  COXSWAIN_NATS_PASS: { path: 'nats.pass', kind: 'string' },
  COXSWAIN_NATS_TOKEN: { path: 'nats.token', kind: 'string' },
  COXSWAIN_NATS_TLS_CA: { path: 'nats.tls.caFile', kind: 'string' },
  COXSWAIN_NATS_TLS_CERT: { path: 'nats.tls.certFile', kind: 'string' },
  COXSWAIN_NATS_TLS_KEY: { path: 'nats.tls.keyFile', kind: 'string' },
  COXSWAIN_NATS_NKEY_SEED_FILE: { path: 'nats.nkeySeedFile', kind: 'string' },
  COXSWAIN_NATS_CREDS_FILE: { path: 'nats.credsFile', kind: 'string' },
  COXSWAIN_DOCKER_SOCKET: { path: 'docker.socketPath', kind: 'string' },
  COXSWAIN_DATA_DIR: { path: 'dataDir', kind: 'string' },
  COXSWAIN_API_HOST: { path: 'api.host', kind: 'string' },
  COXSWAIN_API_PORT: { path: 'api.port', kind: 'int' },
  COXSWAIN_API_TOKEN: { path: 'api.token', kind: 'string' },
  COXSWAIN_SAMPLE_INTERVAL: { path: 'sampleIntervalMs', kind: 'duration' },
  COXSWAIN_HEARTBEAT_INTERVAL: { path: 'heartbeatIntervalMs', kind: 'duration' },
  COXSWAIN_DECIDE_INTERVAL: { path: 'decideIntervalMs', kind: 'duration' },
  COXSWAIN_NODE_DEAD_AFTER: { path: 'nodeDeadAfterMs', kind: 'duration' },
  COXSWAIN_LOCK_LEASE: { path: 'coordinator.lockLeaseMs', kind: 'duration' },
  COXSWAIN_COMMAND_TIMEOUT: { path: 'coordinator.commandTimeoutMs', kind: 'duration' },
  COXSWAIN_MAX_CLOCK_SKEW: { path: 'coordinator.maxClockSkewMs', kind: 'duration' },
  COXSWAIN_SPAN_RING_SIZE: { path: 'telemetry.spanRingSize', kind: 'int' },
  COXSWAIN_LOG_LEVEL: { path: 'log.level', kind: 'string' },
  COXSWAIN_LOG_FORMAT: { path: 'log.format', kind: 'string' },
  COXSWAIN_JOIN: { path: 'join', kind: 'bool' },
};

/** Converts a text value the way its field expects; a bad number is left as text so the schema names it. */
export function convertValue(
  text: string,
  kind: 'string' | 'list' | 'int' | 'duration' | 'bool',
): unknown {
  if (kind === 'bool')
    return text === 'true' || text === '1' ? true : text === 'false' || text === '0' ? false : text;
  if (kind === 'list')
    return text
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  if (kind === 'int') return /^\d+$/.test(text) ? Number(text) : text;
  if (kind === 'duration') return /^\d+(\.\d+)?$/.test(text) ? Number(text) : text;
  return text;
}

export function overridesFromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, { path, kind }] of Object.entries(ENV_VARS)) {
    const value = env[name];
    if (value !== undefined && value !== '') out[path] = convertValue(value, kind);
  }
  return out;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys.at(-1)!] = value;
}

export interface LoadConfigInput {
  /** Path of the YAML file; optional (flags and env may say everything). */
  readonly file?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly flags?: ConfigOverrides;
}

/** Merges and validates; throws AgentConfigError naming the source and the path of each problem. */
export async function loadAgentConfig(input: LoadConfigInput): Promise<AgentConfig> {
  let base: Record<string, unknown> = {};
  const fileLabel = input.file ?? '(no config file)';
  if (input.file !== undefined) {
    let textContent: string;
    try {
      textContent = await readFile(input.file, 'utf8');
    } catch (cause) {
      throw new AgentConfigError(
        input.file,
        `${input.file}: cannot read (${(cause as Error).message})`,
        { cause },
      );
    }
    let doc: unknown;
    try {
      doc = parseYaml(textContent);
    } catch (cause) {
      throw new AgentConfigError(
        input.file,
        `${input.file}: not valid YAML (${(cause as Error).message.split('\n')[0]})`,
        { cause },
      );
    }
    if (doc !== null && doc !== undefined && (typeof doc !== 'object' || Array.isArray(doc))) {
      throw new AgentConfigError(
        input.file,
        `${input.file}: at (root): expected a mapping of settings`,
      );
    }
    base = (doc as Record<string, unknown> | null) ?? {};
  }
  return mergeAndValidate(base, fileLabel, overridesFromEnv(input.env ?? {}), input.flags ?? {});
}

/** Pure part of loading: apply env then flag overrides to the file's object and validate. */
export function mergeAndValidate(
  fileObject: Record<string, unknown>,
  fileLabel: string,
  envOverrides: ConfigOverrides,
  flagOverrides: ConfigOverrides,
): AgentConfig {
  const merged = structuredClone(fileObject);
  const sourceOf = new Map<string, string>();
  for (const [path, value] of Object.entries(envOverrides)) {
    setPath(merged, path, value);
    const envName = Object.entries(ENV_VARS).find(([, v]) => v.path === path)?.[0];
    sourceOf.set(path, envName ? `env ${envName}` : 'env');
  }
  for (const [path, value] of Object.entries(flagOverrides)) {
    if (value === undefined) continue;
    setPath(merged, path, value);
    sourceOf.set(path, 'a command-line flag');
  }
  const parsed = AgentConfigSchema.safeParse(merged);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const path = formatPath(issue.path);
    const dotted = issue.path.filter((k) => typeof k === 'string').join('.');
    const from = [...sourceOf].find(([p]) => dotted === p || dotted.startsWith(`${p}.`))?.[1];
    return `at ${path}: ${issue.message}${from ? ` (set by ${from})` : ''}`;
  });
  throw new AgentConfigError(
    fileLabel,
    `${fileLabel}: invalid agent config: ${problems.join('; ')}`,
  );
}
