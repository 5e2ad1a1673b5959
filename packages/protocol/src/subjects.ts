import { InvalidSubjectTokenError } from './errors.js';

const TOKEN = /^[A-Za-z0-9_-]+$/;

export function assertSubjectToken(token: string, role = 'subject token'): string {
  if (!TOKEN.test(token)) throw new InvalidSubjectTokenError(token, role);
  return token;
}

/** Every NATS subject coxswain uses, built in one place (prefix `cox.<cluster>`). */
export interface Subjects {
  readonly prefix: string;
  report(nodeId: string): string;
  /** Matches every node's report. */
  readonly reports: string;
  /** The liveness heartbeat (a few bytes, every heartbeatIntervalMs). */
  heartbeat(nodeId: string): string;
  /** Matches every node's heartbeat. */
  readonly heartbeats: string;
  raft(nodeId: string): string;
  cmd(nodeId: string): string;
  readonly events: string;
  /** Client → leader API forwarding (request/reply). */
  readonly api: string;
}

export function subjects(cluster: string): Subjects {
  const prefix = `cox.${assertSubjectToken(cluster, 'cluster name')}`;
  return {
    prefix,
    report: (nodeId) => `${prefix}.report.${assertSubjectToken(nodeId, 'node id')}`,
    reports: `${prefix}.report.*`,
    heartbeat: (nodeId) => `${prefix}.hb.${assertSubjectToken(nodeId, 'node id')}`,
    heartbeats: `${prefix}.hb.*`,
    raft: (nodeId) => `${prefix}.raft.${assertSubjectToken(nodeId, 'node id')}`,
    cmd: (nodeId) => `${prefix}.cmd.${assertSubjectToken(nodeId, 'node id')}`,
    events: `${prefix}.events`,
    api: `${prefix}.api`,
  };
}
