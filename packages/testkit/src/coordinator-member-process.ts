/**
 * One simulated host's agent as its own OS process, for tests that SIGKILL it:
 * a real Agent (sampler, reporter) and a ClusterMember (Raft voter, executor,
 * supervisor, coordinator) on a dockerd the test owns. JSON log lines go to
 * stdout; `{"ready":true}` is printed once both are up. SIGTERM stops it
 * gracefully; SIGKILL is the point.
 *
 * argv[2]: JSON { config: AgentConfigInput, member?: { lockLeaseMs, commandTimeoutMs, reconcileGraceMs } }
 */
import { Agent, ClusterMember, mountClusterApi } from '@coxswain/agent';
import { AgentConfig } from '@coxswain/protocol';
import { createLogger } from '@coxswain/telemetry';
import { connect } from 'nats';

interface Args {
  config: unknown;
  member?: {
    lockLeaseMs?: number;
    commandTimeoutMs?: number;
    reconcileGraceMs?: number;
    /** 1: the whole agent as coxswain runs it (member inside, HTTP cluster API on api.port). */
    fullAgent?: number;
  };
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const config = AgentConfig.parse(args.config);
const logger = createLogger({
  level: 'info',
  format: 'json',
  write: (line) => process.stdout.write(`${line}\n`),
});
const coordinator = {
  lockLeaseMs: args.member?.lockLeaseMs ?? 4000,
  commandTimeoutMs: args.member?.commandTimeoutMs ?? 2000,
  reconcileGraceMs: args.member?.reconcileGraceMs ?? 600,
};
const executor = { stopTimeoutMs: 0, healthTimeoutMs: 20_000 };
if (args.member?.fullAgent) {
  const full = await Agent.start(config, { logger, cluster: { coordinator, executor } });
  process.stdout.write(`${JSON.stringify({ ready: true, node: config.nodeId })}\n`);
  process.on('SIGTERM', () => {
    void full.stop().then(() => process.exit(0));
  });
} else await runSplit();

async function runSplit(): Promise<void> {
  const agent = await Agent.start(config, { logger, cluster: false });
  const nc = await connect({ servers: config.nats.servers, name: `member-${config.nodeId}` });
  const member = await ClusterMember.start({
    config,
    nc,
    driver: agent.driver,
    logger,
    onRejected: (subject, reason) => agent.rejected.inc({ subject, reason }),
    executor,
    coordinator,
  });
  // The leader's forecasts ride in this node's reports (the ninth figure).
  agent.predictedRates = () => member.predictedRates();
  // The cluster API on the agent's HTTP port (logged as apiPort in "agent started"), as a real agent has it.
  const clusterApi = mountClusterApi({ router: agent.http.router, member, nc, config, logger });
  process.stdout.write(`${JSON.stringify({ ready: true, node: config.nodeId })}\n`);

  let stopping = false;
  process.on('SIGTERM', () => {
    if (stopping) return;
    stopping = true;
    void (async () => {
      clusterApi.close();
      await member.stop();
      await nc.close();
      await agent.stop();
      process.exit(0);
    })();
  });
}
