import {
  agentPermissions,
  inboxPrefixFor,
  natsServerConfig,
  observerPermissions,
  operatorPermissions,
} from '@coxswain/protocol';
import { describe, expect, it } from 'vitest';

describe('nats permissions', () => {
  it('an agent publishes its own report and heartbeat, events and API requests; subscribes its commands', () => {
    expect(agentPermissions('lab', 'a1', false)).toEqual({
      publish: {
        allow: [
          'cox.lab.report.a1',
          'cox.lab.hb.a1',
          'cox.lab.events',
          'cox.lab.api',
          'cox.lab.api.*',
        ],
      },
      subscribe: { allow: ['cox.lab.cmd.a1', 'cox.lab.events', 'cox.lab.report.*', '_INBOX.>'] },
      allow_responses: true,
    });
  });
  it('a voter adds Raft, commands to any node and the API it serves', () => {
    const p = agentPermissions('lab', 'n1', true, 'per-node');
    expect(p.publish.allow).toEqual(expect.arrayContaining(['cox.lab.raft.*', 'cox.lab.cmd.*']));
    expect(p.subscribe.allow).toEqual(
      expect.arrayContaining([
        'cox.lab.raft.n1',
        'cox.lab.hb.*',
        'cox.lab.api',
        'cox.lab.api.n1',
        '_INBOX_n1.>',
      ]),
    );
    // Only its own heartbeat: a node cannot keep another alive.
    expect(p.publish.allow.filter((x) => x.startsWith('cox.lab.hb.'))).toEqual(['cox.lab.hb.n1']);
    expect(p.subscribe.allow).not.toContain('_INBOX.>');
    expect(inboxPrefixFor('n1')).toBe('_INBOX_n1');
    expect(operatorPermissions('lab').publish.allow).toEqual(['cox.lab.api', 'cox.lab.api.*']);
  });
  it('an observer reads reports and events and may publish only events', () => {
    const p = observerPermissions('lab');
    expect(p.publish.allow).toEqual(['cox.lab.events']);
    expect(p.subscribe.allow).toEqual(['cox.lab.report.*', 'cox.lab.events', '_INBOX.>']);
    const conf = natsServerConfig({
      cluster: 'lab',
      nodes: [],
      observers: [{ kind: 'password', user: 'lab-observer', password: 'p'.repeat(16) }],
    });
    expect(conf).toContain('# observer 1');
    expect(conf).toContain('publish: { allow: ["cox.lab.events"] }');
  });

  it('writes users, NKEYs and TLS; refuses bad ids, weak passwords and duplicate nodes', () => {
    const text = natsServerConfig({
      cluster: 'lab',
      nodes: [
        { id: 'n1', voter: true, credential: { kind: 'nkey', publicKey: `U${'A'.repeat(55)}` } },
        {
          id: 'a1',
          voter: false,
          credential: { kind: 'password', user: 'a1', password: 'x'.repeat(16) },
        },
      ],
      tls: { certFile: '/c.pem', keyFile: '/k.pem', caFile: '/ca.pem', verify: true },
    });
    expect(text).toContain(`nkey: "U${'A'.repeat(55)}"`);
    expect(text).toContain('user: "a1", password: "xxxxxxxxxxxxxxxx"');
    expect(text).toMatch(
      /tls \{\n {2}cert_file: "\/c.pem"\n {2}key_file: "\/k.pem"\n {2}ca_file: "\/ca.pem"\n {2}verify: true/,
    );
    const node = (id: string, password = 'y'.repeat(16)) => ({
      id,
      voter: false,
      credential: { kind: 'password' as const, user: id, password },
    });
    expect(() => natsServerConfig({ cluster: 'lab', nodes: [node('a.b')] })).toThrow(/node id/);
    expect(() => natsServerConfig({ cluster: 'lab', nodes: [node('a', 'short')] })).toThrow(
      /16 characters/,
    );
    expect(() => natsServerConfig({ cluster: 'lab', nodes: [node('a'), node('a')] })).toThrow(
      /twice/,
    );
  });
});
