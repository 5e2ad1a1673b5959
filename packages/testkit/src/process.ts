import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { CommandFailedError, WaitTimeoutError } from './errors.js';

/** Runs a short command to completion; rejects with its stderr when it fails. */
export function run(
  command: string,
  args: readonly string[],
  options: { input?: string; env?: NodeJS.ProcessEnv; allowFailure?: boolean } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env,
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0 && !options.allowFailure) {
        reject(new CommandFailedError([command, ...args].join(' '), code, stderr));
      } else resolve({ code, stdout, stderr });
    });
    if (child.stdin) {
      // A command that exits without reading its input must not crash us with EPIPE.
      child.stdin.on('error', () => {});
      child.stdin.end(options.input);
    }
  });
}

/** Last `maxBytes` of a log file, for error messages; empty when unreadable. */
export async function tailOf(path: string, maxBytes = 4000): Promise<string> {
  try {
    const text = await readFile(path, 'utf8');
    return text.length > maxBytes ? text.slice(-maxBytes) : text;
  } catch {
    return '';
  }
}

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

/**
 * Spawns a daemon with stdout and stderr appended to `logPath`. A file, not a
 * pipe: the log stays readable after the daemon exits, for error messages.
 *
 * Where util-linux's setpriv exists, the daemon is started with a parent-death
 * signal (SIGKILL), so a test runner or lab that crashes or is killed does not
 * leave nats-server or dockerd running on a shared machine. (A dockerd killed
 * that way leaves its shims and containers, as a crashed engine does.)
 */
export function spawnDaemon(
  command: string,
  args: readonly string[],
  logPath: string,
  env: NodeJS.ProcessEnv = process.env,
): ChildProcess {
  const fd = openSync(logPath, 'a');
  try {
    const child = SETPRIV
      ? spawn(SETPRIV, ['--pdeathsig', 'KILL', command, ...args], {
          stdio: ['ignore', fd, fd],
          env,
        })
      : spawn(command, args, { stdio: ['ignore', fd, fd], env });
    // An 'error' event (ENOENT) is reported through exitOf(); without a listener it would crash the process.
    child.on('error', () => {});
    return child;
  } finally {
    closeSync(fd);
  }
}

/** Resolves when the child has exited (at once when it already has). */
export function exitOf(
  child: ChildProcess,
): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => {
    const done = (code: number | null, signal: string | null) => resolve({ code, signal });
    child.once('exit', done);
    child.once('error', () => resolve({ code: null, signal: null }));
  });
}

/** Signals a child and waits for it; escalates to SIGKILL after `graceMs`. */
export async function terminate(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = exitOf(child);
  child.kill('SIGTERM');
  const first = await Promise.race([
    exited.then(() => true),
    sleep(graceMs, undefined, { ref: false }).then(() => false),
  ]);
  if (!first) {
    child.kill('SIGKILL');
    await exited;
  }
}

/** True once something accepts TCP connections on host:port. */
export function probeTcp(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/** Polls `check` every `intervalMs` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function pollUntil<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  intervalMs = 25,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (performance.now() > deadline)
      throw new WaitTimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

interface ProcInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly state: string;
  readonly cmdline: string;
}

/** A snapshot of every process on the machine (Linux /proc). */
export function listProcesses(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name may hold spaces and parentheses: fields start after the last ')'.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      out.push({ pid: Number(entry), ppid: Number(rest[1]), state: rest[0] ?? '?', cmdline });
    } catch {
      // The process exited while we read it.
    }
  }
  return out;
}

/**
 * Pids of every live process whose command line mentions `marker` (a daemon's
 * private temp dir) and all their descendants. containerd shims re-parent
 * themselves to init, so a parent/child walk from dockerd alone misses them;
 * their command lines name the daemon's exec-root, which is how we find them.
 */
export function pidsOwnedBy(markers: readonly string[], roots: readonly number[] = []): number[] {
  const procs = listProcesses().filter((p) => p.state !== 'Z' && p.pid !== process.pid);
  const children = new Map<number, number[]>();
  for (const p of procs) {
    const list = children.get(p.ppid) ?? [];
    list.push(p.pid);
    children.set(p.ppid, list);
  }
  const found = new Set<number>();
  const queue = [
    ...roots.filter((pid) => procs.some((p) => p.pid === pid)),
    ...procs.filter((p) => markers.some((m) => p.cmdline.includes(m))).map((p) => p.pid),
  ];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    if (found.has(pid)) continue;
    found.add(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return [...found];
}

/** True while the process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** SIGKILLs the given pids and waits until none is alive (zombies count as dead). */
export async function killAll(pids: readonly number[], timeoutMs = 10_000): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  await pollUntil(
    `pids ${pids.join(',')} to die`,
    () => (pids.every((pid) => !isAlive(pid)) ? true : undefined),
    timeoutMs,
  );
}
