/**
 * Renders a service's endpoints as an nginx `upstream` block, the file that
 * docker-gen produced by hand in the seed setup. Pure: the text depends only
 * on the endpoint set (never on the applied index or the time), so a watcher
 * can compare renderings and reload nginx only when the set changed.
 */
import type { Endpoint } from '@coxswain/protocol';

/**
 * nginx refuses an upstream without servers ("no servers are inside
 * upstream"), which would fail the reload and keep the old, stale list. A
 * server marked `down` keeps the config valid and makes nginx answer 502,
 * which is what a service without replicas should look like to a client.
 */
export const NO_ENDPOINTS_PLACEHOLDER = '127.0.0.1:1';

/** An nginx upstream name from a service name: letters, digits, `_`, `-` and `.` pass; anything else becomes `_`. */
export function upstreamName(service: string): string {
  return service.replace(/[^A-Za-z0-9_.-]/g, '_');
}

export interface NginxUpstreamOptions {
  /** The upstream's name (default: the service name). */
  readonly name?: string;
  /** Extra lines inside the block after the servers, e.g. `keepalive 16;`. */
  readonly extraLines?: readonly string[];
}

export function renderNginxUpstream(
  service: string,
  endpoints: readonly Pick<Endpoint, 'address' | 'port'>[],
  options: NginxUpstreamOptions = {},
): string {
  const name = upstreamName(options.name ?? service);
  // Sorted and deduplicated here too, so the text is stable whatever order the caller passes.
  const servers = [...new Set(endpoints.map((e) => `${e.address}:${e.port}`))].sort();
  const lines = [
    `# coxswain endpoints ${service}: ${servers.length} ${servers.length === 1 ? 'replica' : 'replicas'}`,
    `upstream ${name} {`,
  ];
  if (servers.length === 0) lines.push(`  server ${NO_ENDPOINTS_PLACEHOLDER} down;`);
  for (const s of servers) lines.push(`  server ${s};`);
  for (const l of options.extraLines ?? []) lines.push(`  ${l}`);
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
