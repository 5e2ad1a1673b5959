/** Pieces the lock-protocol tests share: real-time clocks and an agent's "done" reply. */
import { PROTOCOL_VERSION, type ScaleCommand, type ScaleReply } from '@coxswain/protocol';
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
