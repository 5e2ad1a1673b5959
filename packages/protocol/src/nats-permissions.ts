import { assertSubjectToken, subjects } from './subjects.js';

/*
 * The nats-server `authorization` block for a cluster: who may publish and
 * subscribe where. Pure: credentials come in (a password or an NKEY public key
 * per node), text comes out; the CLI makes the keys and writes the files.
 *
 * What agents do on the bus today (packages/agent, read for this):
 *   every node  pub report.<self>, hb.<self>, events, api (client → voters), api.<leader>
 *               sub cmd.<self>, events, report.* (the API's node liveness view),
 *                   its request inbox; replies to cmd requests
 *   voters also pub raft.<peer>, cmd.<node> (as leader), api.<leader> (forwarding)
 *               sub raft.<self>, hb.* (the leader's liveness), api (queue group), api.<self>;
 *                   reply to api requests
 * A node may publish only its own report and heartbeat, so the subject names the sender.
 * Replies use `allow_responses`, so no one may publish into inboxes at will.
 */

export type InboxMode = 'shared' | 'per-node';

export interface SubjectPermissions {
  readonly publish: { readonly allow: readonly string[] };
  readonly subscribe: { readonly allow: readonly string[] };
  /** Lets the holder reply to requests it received, once each, and nothing else on reply subjects. */
  readonly allow_responses: true;
}

/**
 * The inbox prefix a node's NATS connection must use with `per-node` inboxes
 * (nats.js `connect({ inboxPrefix })`), so it can be allowed to read its own
 * replies and no one else's.
 */
export function inboxPrefixFor(nodeId: string): string {
  return `_INBOX_${assertSubjectToken(nodeId, 'node id')}`;
}

function inbox(nodeId: string, mode: InboxMode): string {
  return mode === 'shared' ? '_INBOX.>' : `${inboxPrefixFor(nodeId)}.>`;
}

/** Permissions of one agent; `voter` adds Raft, sending commands and serving forwarded API requests. */
export function agentPermissions(
  cluster: string,
  nodeId: string,
  voter: boolean,
  inboxes: InboxMode = 'shared',
): SubjectPermissions {
  const s = subjects(cluster);
  const publish = [s.report(nodeId), s.heartbeat(nodeId), s.events, s.api, `${s.api}.*`];
  const subscribe = [s.cmd(nodeId), s.events, s.reports, inbox(nodeId, inboxes)];
  if (voter) {
    publish.push(`${s.prefix}.raft.*`, `${s.prefix}.cmd.*`);
    subscribe.push(s.raft(nodeId), s.heartbeats, s.api, `${s.api}.${nodeId}`);
  }
  return { publish: { allow: publish }, subscribe: { allow: subscribe }, allow_responses: true };
}

/** An operator's CLI (`coxswain service apply`, `nodes`): API requests only; writes still need the API token. */
export function operatorPermissions(cluster: string): SubjectPermissions {
  const s = subjects(cluster);
  return {
    publish: { allow: [s.api, `${s.api}.*`] },
    subscribe: { allow: ['_INBOX.>', s.events] },
    allow_responses: true,
  };
}

/**
 * A watcher (the lab's table, the chaos runner): reads reports and events, and
 * publishes events only (chaos marks its faults there). It can neither command,
 * vote nor report, so a leaked watcher credential cannot move a container.
 */
export function observerPermissions(cluster: string): SubjectPermissions {
  const s = subjects(cluster);
  return {
    publish: { allow: [s.events] },
    subscribe: { allow: [s.reports, s.events, '_INBOX.>'] },
    allow_responses: true,
  };
}

export type NatsCredential =
  | { readonly kind: 'password'; readonly user: string; readonly password: string }
  /** An NKEY user's public key (starts with U); the server never sees the seed. */
  | { readonly kind: 'nkey'; readonly publicKey: string };

export interface NatsClusterNode {
  readonly id: string;
  readonly voter: boolean;
  readonly credential: NatsCredential;
}

export interface NatsTlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** CA that signed the clients' certificates; with `verify`, required for mutual TLS. */
  readonly caFile?: string;
  /** Require and verify a client certificate (mutual TLS). */
  readonly verify?: boolean;
  /** Handshake timeout in seconds (nats-server's default 0.5 s is short for a loaded host). */
  readonly timeoutSeconds?: number;
}

export interface NatsConfigInput {
  readonly cluster: string;
  readonly nodes: readonly NatsClusterNode[];
  readonly operators?: readonly NatsCredential[];
  /** Read-only watchers (observerPermissions). */
  readonly observers?: readonly NatsCredential[];
  readonly inboxes?: InboxMode;
  readonly tls?: NatsTlsFiles;
}

const q = (s: string): string => JSON.stringify(s);

function list(items: readonly string[]): string {
  return `[${items.map(q).join(', ')}]`;
}

function userEntry(credential: NatsCredential, p: SubjectPermissions, comment: string): string {
  const who =
    credential.kind === 'password'
      ? `user: ${q(credential.user)}, password: ${q(credential.password)}`
      : `nkey: ${q(credential.publicKey)}`;
  return [
    `    # ${comment}`,
    `    {`,
    `      ${who}`,
    `      permissions: {`,
    `        publish: { allow: ${list(p.publish.allow)} }`,
    `        subscribe: { allow: ${list(p.subscribe.allow)} }`,
    `        allow_responses: true`,
    `      }`,
    `    }`,
  ].join('\n');
}

function checkCredential(c: NatsCredential): void {
  if (c.kind === 'nkey' && !/^U[A-Z2-7]{55}$/.test(c.publicKey))
    throw new RangeError(`${c.publicKey} is not an NKEY user public key`);
  if (c.kind === 'password' && (c.user === '' || c.password.length < 16))
    throw new RangeError(`user ${c.user}: a password of at least 16 characters is required`);
}

/**
 * nats-server configuration text: the `authorization` block, and a `tls`
 * block when files are given. Include it from the server's own config (which
 * keeps `listen`, `cluster` and the rest). Throws on a bad node id or credential.
 */
export function natsServerConfig(input: NatsConfigInput): string {
  const inboxes = input.inboxes ?? 'shared';
  const seen = new Set<string>();
  const users: string[] = [];
  for (const node of input.nodes) {
    assertSubjectToken(node.id, 'node id');
    if (seen.has(node.id)) throw new RangeError(`node ${node.id} is listed twice`);
    seen.add(node.id);
    checkCredential(node.credential);
    const role = node.voter ? 'voter' : 'agent';
    users.push(
      userEntry(
        node.credential,
        agentPermissions(input.cluster, node.id, node.voter, inboxes),
        `${role} ${node.id}`,
      ),
    );
  }
  for (const [i, op] of (input.operators ?? []).entries()) {
    checkCredential(op);
    users.push(userEntry(op, operatorPermissions(input.cluster), `operator ${i + 1} (CLI)`));
  }
  for (const [i, watcher] of (input.observers ?? []).entries()) {
    checkCredential(watcher);
    users.push(userEntry(watcher, observerPermissions(input.cluster), `observer ${i + 1}`));
  }
  const out = [
    `# nats-server authorization for coxswain cluster ${q(input.cluster)}, written by \`coxswain nats-config\`.`,
    `# Inboxes: ${inboxes}${inboxes === 'per-node' ? ' (each node must connect with inboxPrefix "_INBOX_<node>")' : ''}.`,
    'authorization {',
    '  users: [',
    users.join('\n'),
    '  ]',
    '}',
  ];
  if (input.tls) {
    const t = input.tls;
    out.push(
      'tls {',
      `  cert_file: ${q(t.certFile)}`,
      `  key_file: ${q(t.keyFile)}`,
      ...(t.caFile ? [`  ca_file: ${q(t.caFile)}`] : []),
      ...(t.verify ? ['  verify: true'] : []),
      `  timeout: ${t.timeoutSeconds ?? 2}`,
      '}',
    );
  }
  return `${out.join('\n')}\n`;
}
