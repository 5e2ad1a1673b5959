/**
 * Before an experiment touches anything (no steady-state check, no service
 * declared): can every fault it will fire run on this machine and target? A
 * fault that cannot would otherwise fail each repetition with a tool's message
 * (tc's "Specified qdisc kind is unknown") after the cluster had been disturbed.
 */
import { randomBytes } from 'node:crypto';
import type { ChaosFault } from '@coxswain/protocol';
import type { LoadedExperiment } from './load.js';
import { runCommand } from './probes.js';
import type { ChaosEnv } from './target.js';

/** What this machine and target offer, as far as faults are concerned. */
export interface Capabilities {
  /** The target is the lab: faults on agents, hosts, engines, NATS and links need its handles. */
  readonly lab: boolean;
  /** The lab's hosts reach NATS through relays that can delay their link (`Lab.shapeLink`). */
  readonly relay: boolean;
  /** `tc qdisc ... netem` works; undefined when not probed (no netem fault in the experiment). */
  readonly netem: { readonly ok: boolean; readonly detail: string } | undefined;
}

export interface Refusal {
  /** `method[2]`. */
  readonly at: string;
  readonly fault: ChaosFault['kind'];
  readonly message: string;
}

const LAB_ONLY: ReadonlySet<ChaosFault['kind']> = new Set([
  'agent-kill',
  'agent-freeze',
  'host-kill',
  'engine-restart',
  'nats-kill',
  'nats-stop',
  'host-cut',
  'netem',
]);

const faultsOf = (loaded: LoadedExperiment) =>
  loaded.experiment.method.flatMap((a, i) =>
    a.type === 'fault' ? [{ at: `method[${i}]`, fault: a.fault }] : [],
  );

export function needsNetemProbe(loaded: LoadedExperiment): boolean {
  return faultsOf(loaded).some((f) => f.fault.kind === 'netem');
}

/** The faults of `loaded` that cannot run with `caps`, each with a message naming fault, file and what is missing. */
export function preflightRefusals(loaded: LoadedExperiment, caps: Capabilities): Refusal[] {
  const refusals: Refusal[] = [];
  for (const { at, fault } of faultsOf(loaded)) {
    const where = `${loaded.file}: ${at} (${fault.kind})`;
    if (LAB_ONLY.has(fault.kind) && !caps.lab) {
      refusals.push({
        at,
        fault: fault.kind,
        message: `${where}: needs the lab provider (--target lab); this target has no lab`,
      });
      continue;
    }
    if (fault.kind !== 'netem' || caps.netem?.ok !== false) continue;
    const packetFaults = [
      fault.lossPercent > 0 ? `lossPercent ${fault.lossPercent}` : '',
      fault.duplicatePercent > 0 ? `duplicatePercent ${fault.duplicatePercent}` : '',
      fault.reorderPercent > 0 ? `reorderPercent ${fault.reorderPercent}` : '',
    ].filter((s) => s !== '');
    const missing = `this kernel has no sch_netem module (${caps.netem.detail})`;
    if (packetFaults.length > 0)
      refusals.push({
        at,
        fault: fault.kind,
        message: `${where}: ${packetFaults.join(', ')} need the kernel module sch_netem, and ${missing}; the lab's link relay models only delayMs and jitterMs (a TCP relay cannot lose, duplicate or reorder packets)`,
      });
    else if (!caps.relay)
      refusals.push({
        at,
        fault: fault.kind,
        message: `${where}: needs the kernel module sch_netem, and ${missing}; the lab was started without its NATS relays, which could delay the link instead`,
      });
  }
  return refusals;
}

let netemProbe: Promise<{ ok: boolean; detail: string }> | undefined;

/**
 * Whether `tc qdisc add ... netem` works, tried once per process on the
 * loopback of a throwaway namespace, so no real link is touched.
 */
export function probeNetem(): Promise<{ ok: boolean; detail: string }> {
  netemProbe ??= (async () => {
    const ns = `cxnetem-${randomBytes(3).toString('hex')}`;
    const add = await runCommand(['ip', 'netns', 'add', ns], 10_000);
    if (add.exitCode !== 0)
      return { ok: false, detail: `cannot make a namespace to try it in: ${add.stderr.trim()}` };
    try {
      const tc = await runCommand(
        [
          'ip',
          'netns',
          'exec',
          ns,
          'tc',
          'qdisc',
          'add',
          'dev',
          'lo',
          'root',
          'netem',
          'delay',
          '1ms',
        ],
        10_000,
      );
      return tc.exitCode === 0
        ? { ok: true, detail: 'tc qdisc netem works' }
        : {
            ok: false,
            detail: `tc qdisc add dev lo root netem delay 1ms: ${tc.stderr.trim() || `exit ${tc.exitCode}`}`,
          };
    } finally {
      await runCommand(['ip', 'netns', 'del', ns], 10_000);
    }
  })();
  return netemProbe;
}

export async function capabilitiesOf(
  env: ChaosEnv,
  loaded: LoadedExperiment,
): Promise<Capabilities> {
  const lab = env.lab;
  return {
    lab: lab !== undefined,
    relay:
      lab !== undefined &&
      lab.hosts.length > 0 &&
      lab.hosts.every((h) => h.linkShape !== undefined),
    netem: needsNetemProbe(loaded) ? await probeNetem() : undefined,
  };
}

/** The refusals for `loaded` on `env`, probing the kernel only when a netem fault asks for it. */
export async function preflight(env: ChaosEnv, loaded: LoadedExperiment): Promise<Refusal[]> {
  return preflightRefusals(loaded, await capabilitiesOf(env, loaded));
}
