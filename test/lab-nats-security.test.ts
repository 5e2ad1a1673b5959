/**
 * The lab's NATS security as the lab makes it (makeLabSecurity: a throwaway CA, a client
 * certificate and password per node, the authorization block of `coxswain nats-config`),
 * against a real nats-server started with it: an agent's credentials, through the agent's own
 * NatsLink, cannot publish another node's report, a Raft message or a scale command (the server
 * refuses, NatsLink counts and logs each); a voter's can; the lab's observer reads reports and
 * sends nothing else; a client without a certificate never gets in.
 */

import { type LabSecurity, makeLabSecurity } from '@coxswain/lab';
import { NatsLink, natsSecurityOptions } from '@coxswain/nats-link';
import { subjects } from '@coxswain/protocol';
import { createLogger } from '@coxswain/telemetry';
import { makeTempDir, NatsServer, pollUntil, removeDir } from '@coxswain/testkit';
import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const s = subjects('lab');
const bytes = new TextEncoder().encode('{}');

describe("the lab's generated NATS security (real nats-server)", () => {
  let dir: string;
  let security: LabSecurity;
  let server: NatsServer;
  const links: NatsLink[] = [];

  const linkOf = async (id: string, lines: string[]): Promise<NatsLink> => {
    const credentials = security.nodes.get(id)!;
    const link = new NatsLink({
      servers: [server.url],
      name: id,
      ...natsSecurityOptions({ servers: [server.url], ...credentials }),
      logger: createLogger({ format: 'json', write: (l) => lines.push(l) }),
    });
    links.push(link);
    expect(await link.start(10_000), lines.join('')).toBe(true);
    return link;
  };

  beforeAll(async () => {
    dir = makeTempDir('cox-lab-sec-');
    security = await makeLabSecurity({
      dir,
      cluster: 'lab',
      voters: ['host-1', 'host-2', 'host-3'],
      agents: ['host-4'],
      serverAddresses: ['127.0.0.1'],
    });
    server = await NatsServer.start({ extraConfig: security.serverConfig });
  });
  afterAll(async () => {
    for (const l of links) await l.stop();
    await server?.stop();
    if (dir) await removeDir(dir);
  });

  it("an agent's credentials cannot publish another node's report, a Raft message or a command; the link counts and logs it", async () => {
    const lines: string[] = [];
    const agent = await linkOf('host-4', lines);
    const refused = [s.report('host-2'), s.raft('host-1'), s.cmd('host-2'), s.cmd('host-1')];
    for (const subject of refused) agent.connection!.publish(subject, bytes);
    // Its own report is allowed.
    agent.connection!.publish(s.report('host-4'), bytes);
    await pollUntil(
      'the server to refuse four publishes',
      () => (agent.counters.permissionViolations >= 4 ? true : undefined),
      5000,
    );
    await agent.connection!.flush();
    expect(agent.counters.permissionViolations).toBe(4);
    const logged = lines
      .map((l) => JSON.parse(l) as { msg: string; subject?: string })
      .filter((l) => l.msg === 'NATS permission violation')
      .map((l) => l.subject);
    expect(logged).toEqual(refused);
  });

  it("a voter's credentials send Raft messages and commands; the observer reads reports and may not command", async () => {
    const voter = await linkOf('host-1', []);
    const observer = await connect({ servers: server.url, ...security.observer });
    try {
      const heard: string[] = [];
      observer.subscribe(s.reports, { callback: (_e, m) => heard.push(m.subject) });
      await observer.flush();
      voter.connection!.publish(s.raft('host-2'), bytes);
      voter.connection!.publish(s.cmd('host-4'), bytes);
      voter.connection!.publish(s.report('host-1'), bytes);
      await voter.connection!.flush();
      await pollUntil(
        'the observer to hear the report',
        () => (heard.length > 0 ? true : undefined),
        5000,
      );
      expect(voter.counters.permissionViolations).toBe(0);
      const violations: string[] = [];
      void (async () => {
        for await (const st of observer.status())
          if (st.type === 'error') violations.push(String(st.data));
      })();
      observer.publish(s.cmd('host-4'), bytes);
      await pollUntil(
        'the observer to be refused',
        () => (violations.length > 0 ? true : undefined),
        5000,
      );
      expect(violations[0]).toMatch(/PERMISSIONS_VIOLATION/);
    } finally {
      await observer.close();
    }
  });

  it('refuses a client without a certificate, even with a valid password', async () => {
    const { tls, ...password } = security.nodes.get('host-4')!;
    await expect(
      connect({ servers: server.url, ...password, tls: { caFile: tls.caFile }, timeout: 3000 }),
    ).rejects.toThrow();
  });
});
