import { ClusterState, encodeClusterCommand } from '@coxswain/control';

export interface SyntheticClusterOptions {
  readonly services: number;
  readonly nodes: number;
  readonly nodeDeadAfterMs: number;
  readonly policy: { readonly name: string; readonly params?: Record<string, unknown> };
  /** Replicas each service starts with, half on node s % nodes and half on the next. */
  readonly replicasPerService: number;
}

/**
 * A replicated state built through real committed commands (as the leader's
 * benchmarks need it): `nodes` voters named node-N, and `services` services
 * svc-N already placed under a released lock.
 */
export function buildSyntheticState(o: SyntheticClusterOptions): ClusterState {
  const state = new ClusterState({ nodeDeadAfterMs: o.nodeDeadAfterMs });
  let index = 1;
  const apply = (c: Parameters<typeof encodeClusterCommand>[0]): void => {
    state.applyEntry({ index: index++, type: 'normal', data: encodeClusterCommand(c) });
  };
  for (let n = 0; n < o.nodes; n += 1) {
    apply({
      type: 'node.register',
      at: 0,
      node: {
        id: `node-${n}`,
        address: `10.0.0.${n}`,
        capacity: { cpus: 64, memoryBytes: 2 ** 38, maxReplicas: 100_000 },
        labels: {},
        role: 'voter',
      },
    });
  }
  const half = o.replicasPerService / 2;
  for (let s = 0; s < o.services; s += 1) {
    const name = `svc-${s}`;
    apply({
      type: 'service.put',
      at: 1,
      spec: { name, image: 'x', minReplicas: 2, maxReplicas: 40, policy: o.policy },
    });
    apply({ type: 'lock.acquire', at: 1, service: name, holder: 'node-0', term: 1, leaseMs: 1 });
    const token = index - 1;
    apply({
      type: 'scale.set',
      at: 2,
      service: name,
      token,
      desiredReplicas: o.replicasPerService,
      placement: { [`node-${s % o.nodes}`]: half, [`node-${(s + 1) % o.nodes}`]: half },
    });
    apply({ type: 'lock.release', at: 2, service: name, token });
  }
  return state;
}
