/** Pieces the control tests share: real-time clocks, an agent's "done" reply, a node's registration and report. */
import {
  type ClusterCommandInput,
  type NodeReport,
  PROTOCOL_VERSION,
  type ScaleCommand,
  type ScaleReply,
} from '@coxswain/protocol';
import { LogicalClock } from '../src/lock-protocol.js';

/** The clock, sleep and epoch deps of runLockedOperation, on real time. */
export function realTime() {
  return {
    clock: new LogicalClock(0, () => performance.now()),
    mono: () => performance.now(),
    epochNow: Date.now,
    sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
  };
}

/** An agent's reply that it now runs the command's count, having started all of it. */
export function doneReply(command: ScaleCommand, nodeId: string, durationMs = 1): ScaleReply {
  return {
    v: PROTOCOL_VERSION,
    id: command.id,
    ok: true,
    nodeId,
    running: command.replicas,
    started: command.replicas,
    stopped: 0,
    durationMs,
  };
}

/** A voter's node.register with 8 CPUs, 16 GiB and room for `maxReplicas`. */
export function registration(id: string, maxReplicas = 50): ClusterCommandInput {
  return {
    type: 'node.register',
    at: 0,
    node: {
      id,
      address: id,
      capacity: { cpus: 8, memoryBytes: 2 ** 34, maxReplicas },
      labels: {},
      role: 'voter',
    },
  };
}

/** A voter's report at time 0 with these containers and per-service figures. */
export function nodeReport(
  nodeId: string,
  containers: NodeReport['containers'],
  services: NodeReport['services'],
): NodeReport {
  return {
    v: 1,
    cluster: 'c',
    nodeId,
    address: nodeId,
    role: 'voter',
    capacity: { cpus: 8, memoryBytes: 2 ** 34, maxReplicas: 50 },
    labels: {},
    time: 0,
    seq: 0,
    dockerReachable: true,
    containers,
    services,
  };
}
