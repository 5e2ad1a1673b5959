/** Fixtures shared by the coordinator's unit tests: a polled wait and a node's report. */
import type { NodeReport } from '@coxswain/protocol';

/** Polls `probe` every 10 ms until it gives a value, or fails after `timeoutMs`. */
export async function until<T>(
  what: string,
  probe: () => T | undefined,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A report of `running` web replicas on `nodeId` (capacity far above any test's need). */
export function report(nodeId: string, running: number): NodeReport {
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
    containers: Array.from({ length: running }, (_, i) => ({
      id: `${nodeId}-${i}`,
      name: `web-${i}`,
      service: 'web',
      image: 'x',
      status: 'running' as const,
      health: 'none' as const,
      specVersion: 1,
    })),
    services: running > 0 ? { web: { time: 0, containerCount: running } } : {},
  };
}
