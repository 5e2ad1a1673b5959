import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { DaemonExitedError, DaemonStartError, ProcessSurvivedError } from './errors.js';
import {
  exitOf,
  killAll,
  pidsOwnedBy,
  pollUntil,
  spawnDaemon,
  tailOf,
  terminate,
} from './process.js';
import { makeTempDir, removeDir } from './temp-dir.js';

export interface DockerdOptions {
  /** Run the daemon inside this network namespace (`/var/run/netns/<name>`), as a simulated host. */
  readonly netns?: string;
  readonly startTimeoutMs?: number;
  /** Extra dockerd flags. */
  readonly extraArgs?: readonly string[];
}

/**
 * Runs beside each engine while its owner lives. When the owning process dies
 * without stopping the engine (a test runner killed by a timeout, a crashed
 * benchmark), dockerd and containerd die of their parent-death signal, but
 * shims and containers would live on, holding overlay mounts. The watchdog
 * then kills the containers (through their cgroups), every process naming
 * the engine's directory, unmounts and removes it. Plain sh, no procps needed.
 * It searches for "$dir/" so that its own command line (the bare dir) never matches.
 */
const WATCHDOG = `
owner=$1; dir=$2
while kill -0 "$owner" 2>/dev/null && [ -d "$dir" ]; do sleep 1; done
[ -d "$dir" ] || exit 0
for id in $(ls "$dir/data/containers" 2>/dev/null); do
  for f in /sys/fs/cgroup/*/docker/$id/cgroup.procs /sys/fs/cgroup/docker/$id/cgroup.procs; do
    [ -f "$f" ] && for p in $(cat "$f"); do kill -KILL "$p" 2>/dev/null; done
  done
done
for p in /proc/[0-9]*; do
  pid=\${p#/proc/}
  [ "$pid" = "$$" ] && continue
  if tr '\\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$dir/"; then kill -KILL "$pid" 2>/dev/null; fi
done
sleep 1
grep -F " $dir/" /proc/self/mountinfo | cut -d' ' -f5 | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
rm -rf "$dir"
`;

/**
 * A private Docker engine: own data root, exec root, socket and pid file under
 * a fresh temp dir, no bridge and no iptables rules, so several run side by
 * side without touching the machine's own Docker.
 *
 * With docker.io 20.10 each dockerd starts its own containerd under its exec
 * root unless a system containerd answers at /run/containerd/containerd.sock,
 * in which case all of them share it. kill() handles both: it finds this
 * engine's processes by its directory (dockerd, its containerd, shims, which
 * name the containerd socket) and by its container ids (shims on a shared
 * containerd), plus every descendant (the containers' processes).
 */
export class Dockerd {
  readonly dir: string;
  readonly netns: string | undefined;
  readonly docker: Docker;
  readonly #options: DockerdOptions;
  #child: ChildProcess | undefined;
  #watchdog: ChildProcess | undefined;

  private constructor(dir: string, options: DockerdOptions) {
    this.dir = dir;
    this.netns = options.netns;
    this.#options = options;
    this.docker = new Docker({ socketPath: this.socketPath });
  }

  static async start(options: DockerdOptions = {}): Promise<Dockerd> {
    const daemon = new Dockerd(makeTempDir('cxd-'), options);
    try {
      await daemon.#launch();
    } catch (error) {
      await daemon.kill();
      await daemon.#cleanup();
      throw error;
    }
    return daemon;
  }

  get socketPath(): string {
    return join(this.dir, 'docker.sock');
  }
  get dataRoot(): string {
    return join(this.dir, 'data');
  }
  /** Short on purpose: containerd's socket lives under it, and unix socket paths are limited to 107 bytes. */
  get execRoot(): string {
    return join(this.dir, 'x');
  }
  get logPath(): string {
    return join(this.dir, 'dockerd.log');
  }
  get pid(): number | undefined {
    return this.running ? this.#child?.pid : undefined;
  }
  get running(): boolean {
    const c = this.#child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  async #launch(): Promise<void> {
    const args = [
      '--storage-driver=overlay2',
      `--data-root=${this.dataRoot}`,
      `--exec-root=${this.execRoot}`,
      `--pidfile=${join(this.dir, 'docker.pid')}`,
      `--host=unix://${this.socketPath}`,
      '--bridge=none',
      '--iptables=false',
      ...(this.#options.extraArgs ?? []),
    ];
    // nsenter, not `ip netns exec`: the latter remounts /sys, which hides the cgroup tree from dockerd.
    const child = this.netns
      ? spawnDaemon(
          'nsenter',
          [`--net=/var/run/netns/${this.netns}`, 'dockerd', ...args],
          this.logPath,
        )
      : spawnDaemon('dockerd', args, this.logPath);
    this.#child = child;
    if (!this.#watchdog || this.#watchdog.exitCode !== null) {
      this.#watchdog = spawn(
        'sh',
        ['-c', WATCHDOG, 'coxswain-dockerd-watchdog', String(process.pid), this.dir],
        {
          detached: true,
          stdio: 'ignore',
        },
      );
      this.#watchdog.on('error', () => {});
      this.#watchdog.unref();
    }
    let exited: { code: number | null; signal: string | null } | undefined;
    void exitOf(child).then((e) => {
      exited = e;
    });
    try {
      await pollUntil(
        'dockerd to answer /_ping',
        async () => {
          if (exited) throw new DaemonExitedError(`exited with ${exited.code ?? exited.signal}`);
          if (!existsSync(this.socketPath)) return undefined;
          try {
            await this.docker.ping();
            return true;
          } catch {
            return undefined;
          }
        },
        this.#options.startTimeoutMs ?? 60_000,
        100,
      );
    } catch (error) {
      throw new DaemonStartError('dockerd', (error as Error).message, await tailOf(this.logPath), {
        cause: error,
      });
    }
  }

  /** Ids of every container this engine knows, read from its data root (works while it is down). */
  containerIds(): string[] {
    try {
      return readdirSync(join(this.dataRoot, 'containers'));
    } catch {
      return [];
    }
  }

  /** Every live process of this engine: dockerd, containerd, shims and the containers' processes. */
  processIds(): number[] {
    const roots = this.#child?.pid !== undefined && this.running ? [this.#child.pid] : [];
    return pidsOwnedBy([this.dir, ...this.containerIds().map((id) => `-id ${id}`)], roots);
  }

  /**
   * SIGKILLs everything of this engine at once, like a host that lost power:
   * no container gets a stop signal. The data root stays, so restart() brings
   * the engine back with its containers (those with a restart policy start again).
   */
  async kill(): Promise<void> {
    // dockerd supervises containerd and restarts it when it dies, and a dying
    // containerd may still fork a shim cleanup: kill the supervisor first, then
    // sweep until a fresh look finds nothing of this engine.
    if (this.running && this.#child) {
      this.#child.kill('SIGKILL');
      await exitOf(this.#child);
    }
    for (let sweep = 0; ; sweep++) {
      const pids = this.processIds();
      if (pids.length === 0) break;
      if (sweep >= 20)
        throw new ProcessSurvivedError(
          `processes of dockerd ${this.dir} survive SIGKILL: ${pids.join(', ')}`,
          pids,
        );
      await killAll(pids);
    }
    // A restarted dockerd trusts containerd's pid file and waits for that pid
    // if it looks alive (an unreaped zombie does): remove the stale files.
    for (const file of [
      join(this.execRoot, 'containerd', 'containerd.pid'),
      join(this.dir, 'docker.pid'),
    ]) {
      rmSync(file, { force: true });
    }
  }

  /** Starts the engine again on the same directories (after kill(), or gracefully restarting it). */
  async restart(): Promise<void> {
    if (this.running && this.#child) await terminate(this.#child, 30_000);
    await this.#launch();
  }

  /** Removes this engine's containers, stops it gracefully, and deletes its directory. */
  async stop(): Promise<void> {
    if (this.running) {
      try {
        const containers = await this.docker.listContainers({ all: true });
        await Promise.allSettled(
          containers.map((c) => this.docker.getContainer(c.Id).remove({ force: true, v: true })),
        );
      } catch {
        // An engine that does not answer is killed below.
      }
      if (this.#child) await terminate(this.#child, 30_000);
    }
    // Whatever survived a graceful stop (or a crashed engine's orphans) dies now.
    await this.kill();
    await this.#cleanup();
  }

  async #cleanup(): Promise<void> {
    this.#watchdog?.kill('SIGKILL');
    removeContainerCgroups(this.containerIds());
    await removeDir(this.dir);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/**
 * A killed engine leaves its containers' (now empty) cgroups behind; with
 * cgroup v1 they are directories like /sys/fs/cgroup/cpu/docker/<id>.
 */
function removeContainerCgroups(ids: readonly string[]): void {
  if (ids.length === 0) return;
  let controllers: string[];
  try {
    controllers = readdirSync('/sys/fs/cgroup');
  } catch {
    return;
  }
  const parents = [
    '/sys/fs/cgroup/docker',
    ...controllers.map((c) => `/sys/fs/cgroup/${c}/docker`),
  ];
  for (const parent of parents) {
    for (const id of ids) {
      try {
        rmdirSync(join(parent, id));
      } catch {
        // Absent, or still in use: nothing to do.
      }
    }
  }
}
