/**
 * `--target lab`: a lab started for the run (its hosts, engines, NATS and
 * agents), and the services each experiment declares on it.
 */
import { dirname, resolve } from 'node:path';
import { Lab, type LabOptions, loadServiceSpec, SAMPLE_SERVICE_PATH } from '@coxswain/lab';
import type { ChaosExperiment } from '@coxswain/protocol';
import type { LoadedExperiment } from './load.js';
import { waitSteady } from './steady.js';
import { type ChaosEnv, labEnv } from './target.js';

/** Starts one lab big enough for every experiment, with a leader that knows every host. */
export async function startLabFor(
  experiments: readonly LoadedExperiment[],
  options: Pick<LabOptions, 'agentCommand' | 'stateDir' | 'log'> = {},
): Promise<{ lab: Lab; env: ChaosEnv }> {
  const targets = experiments.map(
    (e) => e.experiment.target.lab ?? { hosts: 3, natsServers: 3, services: [] },
  );
  const lab = await Lab.start({
    hosts: Math.max(3, ...targets.map((t) => t.hosts)),
    natsServers: Math.max(1, ...targets.map((t) => t.natsServers)),
    network: 'netns',
    services: [],
    ...options,
  });
  try {
    await lab.waitForLeader(90_000);
    await lab.waitForAllNodes(60_000);
  } catch (error) {
    await lab.stop();
    throw error;
  }
  return { lab, env: labEnv(lab) };
}

/** `lab-sample` is deploy/lab/samples/web.yaml; any other spec path is relative to the experiment file. */
export function specPath(file: string, spec: string): string {
  return spec === 'lab-sample' ? SAMPLE_SERVICE_PATH : resolve(dirname(file), spec);
}

/** Declares the experiment's services (idempotent), pins their counts, and waits for its steady state. */
export async function prepareServices(
  env: ChaosEnv,
  loaded: LoadedExperiment,
  timeoutMs = 90_000,
): Promise<void> {
  const e: ChaosExperiment = loaded.experiment;
  const url = env.hosts[0]?.apiUrl;
  if (!url) return;
  for (const s of e.target.lab?.services ?? []) {
    const spec = loadServiceSpec(specPath(loaded.file, s.spec));
    await withRetry(() => env.api.applyService(url, spec));
    if (s.replicas !== undefined) await withRetry(() => env.api.scale(url, spec.name, s.replicas!));
  }
  await waitSteady(
    e.steadyState.probes,
    { env, liveHosts: () => env.hosts, baselineTerm: undefined },
    timeoutMs,
  );
}

async function withRetry(step: () => Promise<void>, attempts = 10): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      return await step();
    } catch (error) {
      if (i >= attempts) throw error;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
