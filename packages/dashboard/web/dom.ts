/** Small DOM helpers: the page builds HTML strings from escaped values only. */

export const $ = (id: string): HTMLElement => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el;
};

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
export const esc = (v: unknown): string =>
  String(v ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);

/** The dash every absent figure shows. */
export const DASH = '—';

export const orDash = (v: unknown, unit = ''): string =>
  v === undefined || v === null || (typeof v === 'number' && !Number.isFinite(v))
    ? DASH
    : `${esc(v)}${unit}`;

export function ago(ms: number | null | undefined): string {
  if (ms === undefined || ms === null) return DASH;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3_600_000)} h`;
}

export function clock(epochMs: number | undefined): string {
  if (epochMs === undefined) return DASH;
  const d = new Date(epochMs);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export function bytes(n: number | undefined): string {
  if (n === undefined) return DASH;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

export const fixed = (n: number | undefined, digits = 1): string =>
  n === undefined || !Number.isFinite(n) ? DASH : n.toFixed(digits);

const TONE: Record<string, string> = {
  done: 'ok',
  alive: 'ok',
  leader: 'accent',
  follower: 'dim',
  issued: 'accent',
  scaled: 'accent',
  unchanged: 'dim',
  failed: 'bad',
  refused: 'bad',
  dead: 'bad',
  abandoned: 'warn',
  candidate: 'warn',
  removed: 'dim',
  learner: 'dim',
  client: 'dim',
};
export const pill = (text: string | undefined, tone?: string): string =>
  `<span class="pill ${tone ?? TONE[text ?? ''] ?? 'dim'}">${esc(text ?? DASH)}</span>`;

/** Replaces `el`'s content only when it changed: keeps selection and scroll while polling. */
export function setHtml(el: HTMLElement, html: string): void {
  if (el.dataset.html !== html) {
    el.innerHTML = html;
    el.dataset.html = html;
  }
}

export const total = (counts: Record<string, number>): number =>
  Object.values(counts).reduce((a, b) => a + b, 0);
