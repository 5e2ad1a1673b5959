/**
 * What the leader last assigned this node, per service: count, spec and spec
 * version. Kept on disk so that a restarted agent with no leader in sight still
 * knows what to keep running (static stability): the supervisor restarts dead
 * replicas up to this count, and nothing else changes until a leader says so.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ServiceSpec, validate } from '@coxswain/protocol';
import { z } from 'zod';
import { writeFileDurable } from './fencing-store.js';

export const Assignment = z.object({
  replicas: z.number().int().nonnegative(),
  spec: ServiceSpec,
  specVersion: z.number().int().nonnegative(),
  token: z.number().int().nonnegative(),
  /** Paused warm standbys the leader wants kept here (its warm pool); absent: the agent's own setting. */
  standby: z.number().int().nonnegative().optional(),
});
export type Assignment = z.output<typeof Assignment>;

const AssignmentFile = z.object({ v: z.literal(1), services: z.record(z.string(), Assignment) });

export class AssignmentStore {
  readonly #dir: string;
  #byService = new Map<string, Assignment>();
  #writing: Promise<void> = Promise.resolve();

  private constructor(dir: string) {
    this.#dir = dir;
  }

  /** Opens the store; an unreadable file starts empty (the leader re-sends assignments) and is reported. */
  static async open(dir: string, onCorrupt?: (message: string) => void): Promise<AssignmentStore> {
    const store = new AssignmentStore(dir);
    await mkdir(dir, { recursive: true });
    const path = join(dir, 'assignments.json');
    try {
      const text = await readFile(path, 'utf8');
      const checked = validate(AssignmentFile, JSON.parse(text), path);
      if (checked.ok) store.#byService = new Map(Object.entries(checked.value.services));
      else onCorrupt?.(checked.error.message);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
        onCorrupt?.(`${path}: ${String(error)}`);
    }
    return store;
  }

  get(service: string): Assignment | undefined {
    return this.#byService.get(service);
  }

  all(): ReadonlyMap<string, Assignment> {
    return this.#byService;
  }

  async set(service: string, assignment: Assignment): Promise<void> {
    this.#byService.set(service, assignment);
    await this.#persist();
  }

  async delete(service: string): Promise<void> {
    if (!this.#byService.delete(service)) return;
    await this.#persist();
  }

  #persist(): Promise<void> {
    const next = this.#writing.then(() =>
      writeFileDurable(
        this.#dir,
        'assignments.json',
        JSON.stringify({ v: 1, services: Object.fromEntries(this.#byService) }),
      ),
    );
    this.#writing = next.catch(() => undefined);
    return next;
  }
}
