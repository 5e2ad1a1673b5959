/**
 * The page's loop: poll the public API (the cluster every second, the rest
 * as the open view needs it), follow /v1/events over SSE (a leader change
 * or a command refreshes at once), and redraw the open view. Nothing here
 * writes to the cluster.
 */
import { ApiFailure, get, getOptional } from './api.js';
import { $ } from './dom.js';
import {
  Commands,
  Event,
  Locks,
  Nodes,
  readCluster,
  readDecisions,
  readServiceDetail,
  readSpans,
  Services,
} from './schemas.js';
import { MAX_EVENTS, recordCommit, recordServices, state } from './state.js';
import { renderCluster, renderHeader } from './view-cluster.js';
import { renderDecisions } from './view-decisions.js';
import { renderChaos, renderEvents, renderRecentEvents } from './view-events.js';
import { renderOps } from './view-ops.js';
import { recordInterval, renderServices } from './view-services.js';
import { renderTrace } from './view-trace.js';

const VIEWS = ['cluster', 'services', 'decisions', 'ops', 'events', 'chaos', 'trace'] as const;
type View = (typeof VIEWS)[number];
let view: View = 'cluster';

function route(): void {
  const [name, arg] = location.hash.replace(/^#/, '').split('/');
  view = (VIEWS as readonly string[]).includes(name ?? '') ? (name as View) : 'cluster';
  if (arg && (view === 'services' || view === 'decisions')) {
    const svc = decodeURIComponent(arg);
    if (svc !== state.selectedService) {
      state.selectedService = svc;
      state.detail = undefined;
      state.decisions = undefined;
    }
  }
  if (arg && view === 'trace') state.selectedTrace = arg;
  for (const v of VIEWS) {
    $(`view-${v}`).hidden = v !== view;
    $(`tab-${v}`).classList.toggle('active', v === view);
  }
  void refresh();
}

function note(route: string, error: unknown): void {
  state.errors.set(
    route,
    error instanceof ApiFailure ? error.message : `${route}: ${String(error)}`,
  );
}

async function step(route: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
    state.errors.delete(route);
  } catch (error) {
    note(route, error);
  }
}

async function refreshCluster(): Promise<void> {
  await step('/v1/cluster', async () => {
    const c = await get('/v1/cluster', readCluster);
    if (c.leader?.id !== state.cluster?.leader?.id) state.leaderSeenAt = Date.now();
    state.cluster = c;
    recordCommit(c, Date.now());
  });
  renderHeader();
  if (view === 'cluster') renderCluster();
}

async function refresh(): Promise<void> {
  const tasks: Promise<void>[] = [
    step('/v1/services', async () => {
      const s = await get('/v1/services', (v) => Services.parse(v));
      state.services = s.services;
      recordServices(s.services, Date.now());
      if (!state.selectedService && s.services[0]) state.selectedService = s.services[0].name;
    }),
  ];
  if (view === 'cluster')
    tasks.push(
      step('/v1/nodes', async () => {
        state.nodes = (await get('/v1/nodes', (v) => Nodes.parse(v))).nodes;
      }),
    );
  if (view === 'ops')
    tasks.push(
      step('/v1/commands', async () => {
        const c = await get('/v1/commands?limit=200', (v) => Commands.parse(v));
        state.commands = c.commands;
        state.commandsTotal = c.total;
      }),
      step('/v1/locks', async () => {
        state.locks = (await get('/v1/locks', (v) => Locks.parse(v))).locks;
      }),
    );
  if (view === 'trace')
    tasks.push(
      step('/v1/traces', async () => {
        // scope=cluster asks the agent to merge its peers' spans (README: what waits for the agent).
        const recent = readSpans(await get('/v1/traces?limit=3000&scope=cluster', (v) => v));
        const sel = state.selectedTrace;
        const picked = sel
          ? readSpans(await get(`/v1/traces?traceId=${sel}&scope=cluster`, (v) => v))
          : [];
        const seen = new Set(picked.map((s) => s.spanId));
        state.spans = [...recent.filter((s) => !seen.has(s.spanId)), ...picked];
      }),
    );
  await Promise.all(tasks);
  const name = state.selectedService;
  if (name && (view === 'services' || view === 'decisions')) {
    const path = `/v1/services/${encodeURIComponent(name)}`;
    await step(path, async () => {
      const d = await get(`${path}?window=15m`, readServiceDetail);
      state.detail = d;
      recordInterval(d, Date.now());
    });
    if (view === 'decisions') {
      const routes = await servedRoutes();
      if (routes && !routes.has(DECISIONS_ROUTE)) state.decisions = null;
      else
        await step(`${path}/decisions`, async () => {
          const r = await getOptional(`${path}/decisions?limit=50`, (v) => v);
          state.decisions = r === undefined ? null : readDecisions(r);
        });
    }
  }
  draw();
}

function draw(): void {
  renderHeader();
  if (view === 'cluster') {
    renderCluster();
    renderRecentEvents();
  } else if (view === 'services') renderServices();
  else if (view === 'decisions') renderDecisions();
  else if (view === 'ops') renderOps();
  else if (view === 'events') renderEvents();
  else if (view === 'chaos') renderChaos();
  else if (view === 'trace') renderTrace();
}

const DECISIONS_ROUTE = '/v1/services/{name}/decisions';
let routes: Set<string> | undefined;
/**
 * The routes this agent documents (its OpenAPI document), asked once: a route
 * an older agent lacks is not requested at all, so the browser logs no 404.
 */
async function servedRoutes(): Promise<Set<string> | undefined> {
  if (routes) return routes;
  try {
    const doc = (await get('/v1/openapi.json', (v) => v)) as { paths?: Record<string, unknown> };
    routes = new Set(Object.keys(doc.paths ?? {}));
  } catch {
    return undefined;
  }
  return routes;
}

let drawTimer: ReturnType<typeof setTimeout> | undefined;
/** Events arrive in bursts: one redraw per burst. */
function scheduleDraw(): void {
  if (drawTimer !== undefined) return;
  drawTimer = setTimeout(() => {
    drawTimer = undefined;
    draw();
  }, 150);
}

/** The event stream; EventSource reconnects by itself and resumes with Last-Event-ID. */
function follow(): void {
  const es = new EventSource('/v1/events?replay=200');
  const onEvent = (msg: MessageEvent<string>): void => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(msg.data);
    } catch {
      return;
    }
    const r = Event.safeParse(parsed);
    if (!r.success) return;
    state.events.push(r.data);
    if (state.events.length > MAX_EVENTS) state.events.splice(0, state.events.length - MAX_EVENTS);
    // A leader change is shown now, not at the next poll.
    if (r.data.type.startsWith('leader.')) void refreshCluster();
    if (r.data.type.startsWith('command.') || r.data.type.startsWith('node.')) void refresh();
    scheduleDraw();
  };
  for (const type of [
    'leader.elected',
    'leader.stepped_down',
    'node.joined',
    'node.dead',
    'node.returned',
    'command.issued',
    'command.done',
    'command.refused',
    'container.died',
    'container.restarted',
    'chaos.fault',
    'chaos.verdict',
  ])
    es.addEventListener(type, onEvent as EventListener);
  es.onmessage = onEvent;
  es.onopen = () => {
    state.stream = 'live';
    renderHeader();
  };
  es.onerror = () => {
    state.stream = es.readyState === EventSource.CLOSED ? 'down' : 'connecting';
    renderHeader();
  };
}

function start(): void {
  window.addEventListener('hashchange', route);
  $('ev-filter').addEventListener('input', () => renderEvents());
  route();
  follow();
  setInterval(() => void refreshCluster(), 1000);
  setInterval(() => void refresh(), 2000);
  void refreshCluster();
}

start();
