/**
 * Container starts of one service, heard on the engines' event streams: for
 * container faults, the agent's own restart (it needs no command from the
 * leader) is the decision the runner times.
 */
import { LABELS } from '@coxswain/protocol';
import type Docker from 'dockerode';

export class ContainerStarts {
  readonly #streams: NodeJS.ReadableStream[] = [];
  readonly starts: { atMs: number; host: string; id: string }[] = [];

  static async watch(
    engines: readonly { host: string; docker: Docker }[],
    service: string,
  ): Promise<ContainerStarts> {
    const w = new ContainerStarts();
    await Promise.all(
      engines.map(async ({ host, docker }) => {
        try {
          const stream = (await docker.getEvents({
            filters: {
              type: ['container'],
              event: ['start', 'unpause'],
              label: [`${LABELS.service}=${service}`],
            },
          })) as NodeJS.ReadableStream;
          stream.on('data', (chunk: Buffer) => {
            const atMs = performance.now();
            for (const line of chunk.toString('utf8').split('\n')) {
              if (!line.trim()) continue;
              try {
                const e = JSON.parse(line) as { id?: string };
                w.starts.push({ atMs, host, id: e.id ?? '' });
              } catch {
                // a partial line: the stream is newline-delimited JSON
              }
            }
          });
          stream.on('error', () => {});
          w.#streams.push(stream);
        } catch {
          // an engine that does not answer reports no starts
        }
      }),
    );
    return w;
  }

  close(): void {
    for (const s of this.#streams) (s as unknown as { destroy?: () => void }).destroy?.();
  }
}
