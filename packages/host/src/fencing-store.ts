/**
 * The highest fencing token this agent has seen per service, kept on disk.
 *
 * This is the agent's half of "only the fencing token decides": a leader that
 * was deposed (partitioned from Raft, but still able to reach this agent) keeps
 * sending commands with the token of its old lock. A newer leader's lock has a
 * larger token (a later Raft index), and once any command carrying it reached
 * this agent, the old token is refused here, whatever the old leader believes.
 * The token is fsynced before the command acts, so a crash and restart cannot
 * forget it and let a stale command through.
 */
import { appendFile, mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoxswainError, validate } from '@coxswain/protocol';
import { z } from 'zod';

/** A command's token is lower than one this agent already accepted for the service. */
export class StaleFencingTokenError extends CoxswainError {
  readonly service: string;
  readonly token: number;
  readonly highest: number;
  constructor(service: string, token: number, highest: number) {
    super(
      'COX_STALE_TOKEN',
      `fencing token ${token} for service ${service} is stale: this agent has already accepted ${highest}`,
    );
    this.service = service;
    this.token = token;
    this.highest = highest;
  }
}

/** The store's file is unreadable or not what we wrote; refusing to start beats forgetting tokens. */
export class FencingStoreCorruptError extends CoxswainError {
  readonly path: string;
  constructor(path: string, detail: string, options?: { cause?: unknown }) {
    super('COX_FENCING_STORE_CORRUPT', `${path}: ${detail}`, options);
    this.path = path;
  }
}

/** `reset` found the store open in a running process (the agent): resetting under it would be undone by its next write. */
export class FencingStoreInUseError extends CoxswainError {
  readonly pid: number;
  constructor(dir: string, pid: number) {
    super(
      'COX_FENCING_STORE_IN_USE',
      `${dir} is in use by process ${pid} (the agent?): stop it first, then reset`,
    );
    this.pid = pid;
  }
}

/** What `FencingStore.reset` changed, as written to `<dir>/resets.log`. */
export interface FencingReset {
  readonly service: string;
  readonly from: number;
  readonly to: number;
  readonly atEpochMs: number;
}

const OWNER_FILE = 'owner.pid';

const FencingFile = z.object({
  v: z.literal(1),
  highestTokenByService: z.record(z.string(), z.number().int().nonnegative()),
});

/** Writes `data` to `path` atomically and durably: temp file, fsync, rename, fsync the directory. */
export async function writeFileDurable(dir: string, name: string, data: string): Promise<void> {
  const path = join(dir, name);
  const tmp = `${path}.tmp`;
  const file = await open(tmp, 'w');
  try {
    await file.writeFile(data);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, path);
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but is someone else's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class FencingStore {
  readonly #dir: string;
  readonly #file = 'fencing.json';
  #highest = new Map<string, number>();
  /** Writes are serialised so two services' admissions never interleave on the file. */
  #writing: Promise<void> = Promise.resolve();

  private constructor(dir: string) {
    this.#dir = dir;
  }

  /** Opens (or creates) the store in `dir`. */
  static async open(dir: string): Promise<FencingStore> {
    const store = new FencingStore(dir);
    await mkdir(dir, { recursive: true });
    const path = join(dir, store.#file);
    let text: string | undefined;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new FencingStoreCorruptError(path, 'cannot be read', { cause: error });
      }
    }
    if (text !== undefined) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (cause) {
        throw new FencingStoreCorruptError(path, 'is not JSON', { cause });
      }
      const checked = validate(FencingFile, json, path);
      if (!checked.ok) throw new FencingStoreCorruptError(path, checked.error.message);
      store.#highest = new Map(Object.entries(checked.value.highestTokenByService));
    }
    // Not a lock: a marker `reset` checks so it does not rewrite a store a live agent holds.
    await writeFile(join(dir, OWNER_FILE), String(process.pid));
    return store;
  }

  /**
   * Repairs a poisoned store (a forged or mistaken huge token): sets the
   * service's highest token to `to` (0 forgets it), durably, and appends the
   * change to `resets.log`. Refuses while another live process has the store
   * open. With `to` 0 a deposed leader's old token would pass again until the
   * real leader's next command arrives, so reset only with the leader up.
   */
  static async reset(dir: string, service: string, to = 0): Promise<FencingReset> {
    let owner: number | undefined;
    try {
      owner = Number((await readFile(join(dir, OWNER_FILE), 'utf8')).trim());
    } catch {
      owner = undefined;
    }
    if (owner !== undefined && Number.isInteger(owner) && owner !== process.pid && alive(owner))
      throw new FencingStoreInUseError(dir, owner);
    const store = await FencingStore.open(dir);
    const from = store.highest(service);
    if (to === 0) store.#highest.delete(service);
    else store.#highest.set(service, to);
    await store.#persist();
    const entry: FencingReset = { service, from, to, atEpochMs: Date.now() };
    await appendFile(join(dir, 'resets.log'), `${JSON.stringify(entry)}\n`);
    return entry;
  }

  highest(service: string): number {
    return this.#highest.get(service) ?? 0;
  }

  /**
   * Admits a command's token for a service: throws StaleFencingTokenError when
   * it is lower than the highest accepted; otherwise stores it (durably, when
   * it is new) before returning, so the caller may act. Equal tokens pass: a
   * retried command, or the same operation's command after a restart.
   * Callers serialise admissions per service (the executor's per-service lock).
   */
  /** Commands refused here for a stale token, by service (`coxswain_stale_tokens_refused_total`). */
  readonly refused = new Map<string, number>();

  async admit(service: string, token: number): Promise<void> {
    const highest = this.highest(service);
    if (token < highest) {
      this.refused.set(service, (this.refused.get(service) ?? 0) + 1);
      throw new StaleFencingTokenError(service, token, highest);
    }
    if (token === highest) return;
    this.#highest.set(service, token);
    await this.#persist();
  }

  #persist(): Promise<void> {
    const next = this.#writing.then(() =>
      writeFileDurable(
        this.#dir,
        this.#file,
        JSON.stringify({ v: 1, highestTokenByService: Object.fromEntries(this.#highest) }),
      ),
    );
    // A failed write must fail its own admission, not every later one.
    this.#writing = next.catch(() => undefined);
    return next;
  }
}
