/**
 * `coxswain traces`: recent spans from agents' `/v1/traces`, grouped by trace
 * and printed as an indented tree with each span's duration and the node that
 * produced it.
 *
 * Each agent keeps only its own spans, so a decision's trace is split between
 * the leader and the agents that executed its commands: `--api` may be given
 * once per agent, and the spans of all of them are merged (by span id) before
 * the trees are built. A span whose parent none of them holds is shown as a
 * root, marked `↖` (its parent lives on an agent that was not asked).
 */
import type { SpanRecord } from '@coxswain/telemetry';
import { RecentSpansResponse } from '@coxswain/telemetry';
import type { Command } from 'commander';
import { clientFrom, DEFAULT_API, ms, printJson, reportFailure } from './status.js';

export interface TracesFlags {
  api: string[];
  token?: string;
  traceId?: string;
  limit?: string;
  json?: boolean;
  follow?: boolean;
}

async function follow(fetchAll: () => Promise<SpanRecord[][]>): Promise<void> {
  const follower = new TraceFollower();
  let stop = false;
  process.once('SIGINT', () => {
    stop = true;
  });
  while (!stop) {
    try {
      const ready = follower.feed(mergeSpans(await fetchAll()), performance.now());
      for (const spans of ready) process.stdout.write(`${renderTraces(spans)}\n\n`);
    } catch (error) {
      reportFailure('traces', error);
      process.exitCode = 0;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Attributes worth a glance on the tree line; the rest are in `--json`. */
const SHOWN_ATTRIBUTES = [
  'coxswain.command_type',
  'coxswain.service',
  'coxswain.target_node',
  'coxswain.replicas',
  'coxswain.desired_replicas',
  'coxswain.token',
  'coxswain.term',
  'coxswain.outcome',
  'coxswain.election.outcome',
  'coxswain.reason',
] as const;

function duration(msValue: number): string {
  return msValue < 1
    ? `${msValue.toFixed(2)}ms`
    : msValue < 10
      ? `${msValue.toFixed(1)}ms`
      : ms(msValue);
}

function attributeText(span: SpanRecord): string {
  const parts: string[] = [];
  for (const key of SHOWN_ATTRIBUTES) {
    const value = span.attributes[key];
    if (value === undefined || value === null) continue;
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    parts.push(
      `${key.replace(/^coxswain\./, '')}=${text.length > 80 ? `${text.slice(0, 77)}...` : text}`,
    );
  }
  return parts.length > 0 ? `  ${parts.join(' ')}` : '';
}

/** Spans from several agents as one list: one copy of each span, oldest first. */
export function mergeSpans(lists: readonly (readonly SpanRecord[])[]): SpanRecord[] {
  const byId = new Map<string, SpanRecord>();
  for (const list of lists) for (const s of list) byId.set(`${s.traceId}/${s.spanId}`, s);
  return [...byId.values()].sort((a, b) => a.startMs - b.startMs);
}

/** Every trace as a tree: a header line, then one line per span indented under its parent. */
export function renderTraces(spans: readonly SpanRecord[]): string {
  if (spans.length === 0) return 'no spans';
  const traces = new Map<string, SpanRecord[]>();
  for (const s of spans) {
    const list = traces.get(s.traceId) ?? [];
    list.push(s);
    traces.set(s.traceId, list);
  }
  const ordered = [...traces.entries()].sort(
    ([, a], [, b]) => Math.min(...a.map((s) => s.startMs)) - Math.min(...b.map((s) => s.startMs)),
  );
  const blocks: string[] = [];
  for (const [traceId, list] of ordered) {
    list.sort((a, b) => a.startMs - b.startMs);
    const ids = new Set(list.map((s) => s.spanId));
    const children = new Map<string, SpanRecord[]>();
    const roots: SpanRecord[] = [];
    for (const s of list) {
      if (s.parentSpanId && ids.has(s.parentSpanId)) {
        const c = children.get(s.parentSpanId) ?? [];
        c.push(s);
        children.set(s.parentSpanId, c);
      } else roots.push(s);
    }
    const start = Math.min(...list.map((s) => s.startMs));
    const end = Math.max(...list.map((s) => s.endMs));
    const nodes = [...new Set(list.map((s) => s.resource.node ?? s.resource.service))].sort();
    const lines = [
      `trace ${traceId}  ${new Date(start).toISOString()}  ${duration(end - start)}  ${list.length} span${list.length === 1 ? '' : 's'}  nodes: ${nodes.join(', ')}`,
    ];
    const visit = (s: SpanRecord, depth: number): void => {
      const orphan = depth === 0 && s.parentSpanId !== undefined ? '↖ ' : '';
      const offset = `+${duration(s.startMs - start)}`;
      const failed =
        s.status.code === 'error'
          ? `  ERROR${s.status.message ? `: ${s.status.message}` : ''}`
          : '';
      lines.push(
        `${'  '.repeat(depth + 1)}${orphan}${s.name}  ${duration(s.durationMs)}  [${s.resource.node ?? s.resource.service}]  ${offset}${attributeText(s)}${failed}`,
      );
      for (const c of children.get(s.spanId) ?? []) visit(c, depth + 1);
    };
    for (const r of roots) visit(r, 0);
    blocks.push(lines.join('\n'));
  }
  return blocks.join('\n\n');
}

/**
 * `--follow`: which traces to print as they happen. A trace is printed once,
 * when no new span of it arrived for `quietMs` (so its commands' spans from
 * the other agents are in); traces already there at the first poll are not.
 */
export class TraceFollower {
  readonly #quietMs: number;
  readonly #done = new Set<string>();
  readonly #pending = new Map<string, { spans: Map<string, SpanRecord>; changedMs: number }>();
  #first = true;

  constructor(quietMs = 1500) {
    this.#quietMs = quietMs;
  }

  /** Takes the latest poll's spans; returns the spans of the traces to print now, oldest first. */
  feed(spans: readonly SpanRecord[], nowMs: number): SpanRecord[][] {
    for (const s of spans) {
      if (this.#done.has(s.traceId)) continue;
      if (this.#first) {
        this.#done.add(s.traceId);
        continue;
      }
      let p = this.#pending.get(s.traceId);
      if (!p) {
        p = { spans: new Map(), changedMs: nowMs };
        this.#pending.set(s.traceId, p);
      }
      if (!p.spans.has(s.spanId)) {
        p.spans.set(s.spanId, s);
        p.changedMs = nowMs;
      }
    }
    this.#first = false;
    const out: SpanRecord[][] = [];
    for (const [traceId, p] of this.#pending) {
      if (nowMs - p.changedMs < this.#quietMs) continue;
      out.push([...p.spans.values()]);
      this.#pending.delete(traceId);
      this.#done.add(traceId);
    }
    return out.sort((a, b) => a[0]!.startMs - b[0]!.startMs);
  }
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function registerTracesCommand(program: Command): void {
  program
    .command('traces')
    .description(
      "show recent spans grouped by trace, as trees with durations and each span's node (merge several agents with repeated --api)",
    )
    .option(
      '--api <url>',
      `an agent's API; repeat to merge several agents' spans (default: $COXSWAIN_API or ${DEFAULT_API})`,
      collect,
      [],
    )
    .option('--token <token>', 'API token (default: $COXSWAIN_API_TOKEN)')
    .option('--trace-id <id>', 'only this trace (32 hex digits)')
    .option('--limit <n>', 'at most this many recent spans per agent')
    .option('--json', 'print the merged spans as JSON')
    .option('--follow', 'keep polling and print each new trace as a tree once it is complete')
    .action(async (flags: TracesFlags) => {
      try {
        const urls = flags.api.length > 0 ? flags.api : [undefined];
        const query = {
          traceId: flags.traceId,
          limit: flags.limit,
        };
        const fetchAll = () =>
          Promise.all(
            urls.map(async (url) => {
              const client = clientFrom({
                ...(url !== undefined ? { api: url } : {}),
                ...(flags.token !== undefined ? { token: flags.token } : {}),
              });
              return (await client.get('/v1/traces', RecentSpansResponse, query)).spans;
            }),
          );
        if (flags.follow) return await follow(fetchAll);
        const spans = mergeSpans(await fetchAll());
        if (flags.json) printJson({ spans });
        else process.stdout.write(`${renderTraces(spans)}\n`);
      } catch (error) {
        reportFailure('traces', error);
      }
    });
}
