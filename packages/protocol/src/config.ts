import { z } from 'zod';
import { ByteSize, DurationMs, Name, NodeId } from './common.js';

const NatsUrl = z
  .string()
  .regex(
    /^(nats|tls|ws|wss):\/\/[^\s]+$|^[^\s:/]+:\d+$/,
    'a NATS URL such as nats://127.0.0.1:4222 or host:port',
  );

/** The agent's config file (`/etc/coxswain/agent.yaml`); flags and COXSWAIN_* env vars override it. */
export const AgentConfig = z
  .object({
    cluster: Name.default('default'),
    nodeId: NodeId,
    /** Address other nodes and people use to reach this node's API. */
    address: z.string().default('127.0.0.1'),
    /** Node ids of the Raft voters (at most 5). This node is a voter when listed. */
    voters: z.array(NodeId).max(5).default([]),
    nats: z
      .object({
        servers: z.array(NatsUrl).min(1).default(['nats://127.0.0.1:4222']),
        user: z.string().optional(),
        pass: z.string().optional(),
        token: z.string().optional(),
        /**
         * TLS towards the servers: `caFile` is the CA that signed the servers'
         * certificates (instead of Node's CA store); `certFile` and `keyFile`
         * are this node's client certificate, for servers that verify clients
         * (mutual TLS). Paths only: the key never passes through the config.
         */
        tls: z
          .object({
            caFile: z.string().min(1).optional(),
            certFile: z.string().min(1).optional(),
            keyFile: z.string().min(1).optional(),
          })
          .strict()
          .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), {
            message: 'certFile and keyFile go together',
          })
          .optional(),
        /** An NKEY seed file (`SU...`, what `coxswain nats-config --auth nkey` writes as <node>.nk). */
        nkeySeedFile: z.string().min(1).optional(),
        /** A `.creds` file (user JWT and NKEY seed) for servers in operator/JWT mode. */
        credsFile: z.string().min(1).optional(),
      })
      .refine(
        (n) =>
          [
            n.user !== undefined || n.pass !== undefined,
            n.token,
            n.nkeySeedFile,
            n.credsFile,
          ].filter(Boolean).length <= 1,
        { message: 'one way to authenticate: user/pass, token, nkeySeedFile or credsFile' },
      )
      .default({ servers: ['nats://127.0.0.1:4222'] }),
    docker: z
      .object({ socketPath: z.string().default('/var/run/docker.sock') })
      .default({ socketPath: '/var/run/docker.sock' }),
    dataDir: z.string().default('/var/lib/coxswain'),
    api: z
      .object({
        host: z.string().default('0.0.0.0'),
        port: z.number().int().min(0).max(65535).default(7070),
        /** Required for writes; when unset, writes are refused. */
        token: z.string().min(8).optional(),
      })
      .default({ host: '0.0.0.0', port: 7070 }),
    sampleIntervalMs: DurationMs.default(1000),
    /** The liveness heartbeat, apart from the report (see heartbeat.ts). */
    heartbeatIntervalMs: DurationMs.default(200),
    decideIntervalMs: DurationMs.default(1000),
    nodeDeadAfterMs: DurationMs.default(1000),
    capacity: z
      .object({
        cpus: z.number().positive().optional(),
        memoryBytes: ByteSize.optional(),
        maxReplicas: z.number().int().positive().optional(),
      })
      .default({}),
    labels: z.record(z.string(), z.string()).default({}),
    /**
     * The leader's lock protocol: the lock lease (becomes the cluster setting
     * when this node leads), how long one command send may wait for its reply,
     * and the bound on clock differences between hosts that command expiry
     * allows for (see ScaleCommand.ttlMs). Unset: the built-in defaults
     * (15 s, 10 s, 500 ms).
     */
    coordinator: z
      .object({
        lockLeaseMs: DurationMs.optional(),
        commandTimeoutMs: DurationMs.optional(),
        maxClockSkewMs: DurationMs.optional(),
      })
      .strict()
      .default({}),
    /** How many finished spans `/v1/traces` keeps (default 2000). */
    telemetry: z
      .object({ spanRingSize: z.number().int().min(1).max(1_000_000).optional() })
      .strict()
      .default({}),
    /**
     * A voter that joins an existing cluster (replacing a lost one) starts Raft
     * without bootstrapping and waits to be added with `coxswain voter add` /
     * `POST /v1/nodes/{id}/voter`; it learns the membership from config entries.
     */
    join: z.boolean().default(false),
    /**
     * End-to-end authentication of scale commands (command-signature.ts).
     * `voterKeys` maps each voter's node id to its ed25519 public key (PEM or
     * the raw 32 bytes in base64): the operator's word on who may command,
     * never learned from the bus. `signingKeyFile` is this voter's private key
     * (PEM); unset, a voter generates `<dataDir>/signing/key.pem` on first
     * start and logs its public key. `requireSignedCommands` unset: on when
     * `voterKeys` is given.
     */
    security: z
      .object({
        requireSignedCommands: z.boolean().optional(),
        voterKeys: z.record(NodeId, z.string().min(1).max(4096)).default({}),
        signingKeyFile: z.string().min(1).optional(),
      })
      .strict()
      .refine((s) => s.requireSignedCommands !== true || Object.keys(s.voterKeys).length > 0, {
        message: 'requireSignedCommands needs voterKeys (the public key of every voter)',
      })
      .default({ voterKeys: {} }),
    log: z
      .object({
        level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
        format: z.enum(['auto', 'json', 'pretty']).default('auto'),
      })
      .default({ level: 'info', format: 'auto' }),
  })
  .strict();
