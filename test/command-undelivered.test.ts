// The leader's command sender on a real nats-server: a command to a node whose
// agent is gone is known undelivered (the server answers "no responders"), which
// lets the lock protocol end the operation once that node is dead; a subscriber
// that never answers is a timeout, which may have arrived and keeps the wait.
import { CommandSender } from '@coxswain/agent';
import { ClusterState, CommandUndeliveredError, ForecastPolicies } from '@coxswain/control';
import { PROTOCOL_VERSION, type ScaleCommand, ServiceSpec, subjects } from '@coxswain/protocol';
import { NatsServer } from '@coxswain/testkit';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CLUSTER = 'undelivered';
let ns: NatsServer;
let leader: NatsConnection;
let frozen: NatsConnection;
let sender: CommandSender;

const command: ScaleCommand = {
  v: PROTOCOL_VERSION,
  id: 'web.7.b',
  service: 'web',
  spec: ServiceSpec.parse({ name: 'web', image: 'x', minReplicas: 1, maxReplicas: 3 }),
  specVersion: 1,
  replicas: 1,
  token: 7,
  term: 1,
  leaderId: 'a',
  issuedAt: Date.now(),
  ttlMs: 5000,
};

beforeAll(async () => {
  ns = await NatsServer.start();
  leader = await connect({ servers: ns.url, name: 'leader' });
  frozen = await connect({ servers: ns.url, name: 'frozen agent' });
  const state = new ClusterState();
  const log = { info() {}, warn() {}, error() {}, debug() {}, child: () => log };
  sender = new CommandSender({
    nodeId: 'a',
    subjects: subjects(CLUSTER),
    nc: () => leader,
    log: log as never,
    forecast: new ForecastPolicies({
      services: state,
      now: Date.now,
      decideIntervalMs: () => 1000,
      onInvalid: () => {},
    }),
  });
});

afterAll(async () => {
  await leader?.close();
  await frozen?.close();
  await ns?.stop();
});

describe('a command to a lost agent', () => {
  it('is CommandUndeliveredError when no agent subscribes for the node', async () => {
    const error = await sender.send('b', command, 2000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandUndeliveredError);
    expect((error as CommandUndeliveredError).code).toBe('COX_COMMAND_UNDELIVERED');
  });

  it('is a plain timeout, not undelivered, when an agent holds the subscription but never answers', async () => {
    frozen.subscribe(subjects(CLUSTER).cmd('c'), { callback: () => {} });
    await frozen.flush();
    const error = await sender.send('c', command, 300).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(CommandUndeliveredError);
  });
});
