/// <reference lib="dom" />
/**
 * The dashboard in a real browser (Debian's chromium through playwright-core,
 * headless, --no-sandbox as root) against a live 3-host lab: the page loads
 * with no console errors, shows the leader and the nodes, its charts have
 * data, and after the leader's agent is SIGKILLed it shows the new leader
 * within 2 s of the serving agent's API knowing it. Screenshots of every view
 * go to artifacts/screenshots/ (git-ignored; CI keeps them as artifacts).
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadServiceSpec } from '@coxswain/lab';
import { DecisionsReply } from '@coxswain/protocol';
import { makeTempDir, pollUntil } from '@coxswain/testkit';
import { type Browser, chromium, type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { startSourceLab } from './fixtures/source-lab.js';

const SHOTS = fileURLToPath(new URL('../artifacts/screenshots/', import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Debian's chromium, headless; --no-sandbox because the tests run as root. */
async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `no chromium at ${CHROMIUM}: apt-get install -y chromium (scripts/setup.sh does)`,
    );
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}

/** Every console error and uncaught exception of the page, with where it came from. */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => {
    // An SSE stream the browser closes on navigation is not a failure of the page.
    if (!r.url().includes('/v1/events'))
      errors.push(`requestfailed: ${r.url()} ${r.failure()?.errorText}`);
  });
  return errors;
}

const shownLeader = (page: Page): Promise<string> =>
  page.locator('#leader').evaluate((el) => (el as HTMLElement).dataset.leader ?? '');

const chartPoints = (page: Page, id: string): Promise<number> =>
  page.locator(`#${id}`).evaluate((el) => Number((el as HTMLElement).dataset.points ?? '0'));

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true });
}

describe('the dashboard in chromium against a live lab', () => {
  it('loads clean, shows the leader, the nodes and charts with data, and follows a leader kill within 2 s', async () => {
    mkdirSync(SHOTS, { recursive: true });
    const stateDir = makeTempDir('cxdb-');
    const lab = await startSourceLab(stateDir);
    let browser: Browser | undefined;
    try {
      const first = await lab.waitForLeader(90_000);
      const leader = first.leader!.id;
      await lab.waitForAllNodes(60_000);
      await lab.api(leader).applyService(loadServiceSpec());
      // A manual scale-up gives the views commands, a lock, placement over three nodes and a trace.
      await pollUntil(
        'web at its minimum',
        async () => {
          const web = (await lab.api(leader).services()).services.find((s) => s.name === 'web');
          return web && Object.values(web.running).reduce((a, b) => a + b, 0) === 2
            ? web
            : undefined;
        },
        60_000,
        250,
      );
      await lab.api(leader).scaleService('web', 4);

      // The page is opened from a follower: the leader's agent is the one that will die.
      const served = lab.hosts.find((h) => h.name !== leader)!;
      browser = await launchChromium();
      const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
      const errors = watchErrors(page);
      // Offline by construction: every request the page makes goes to the agent that served it.
      const foreign: string[] = [];
      page.on('request', (r) => {
        const url = new URL(r.url());
        if (url.protocol !== 'data:' && url.origin !== new URL(served.apiUrl).origin)
          foreign.push(r.url());
      });
      await page.goto(`${served.apiUrl}/`, { waitUntil: 'load' });

      // The page names the leader and term the serving agent's API names (a loaded machine may
      // have held another election since the lab formed, so compare with the API now).
      const api = lab.api(served.name);
      const agreed = await pollUntil(
        'the page to show the API’s leader and term',
        async () => {
          const c = await api.cluster().catch(() => undefined);
          const term = await page.locator('#term').textContent();
          return c?.leader && (await shownLeader(page)) === c.leader.id && term === String(c.term)
            ? c
            : undefined;
        },
        15_000,
        100,
      );
      expect(agreed.leader!.id).toBeTruthy();
      await page.waitForFunction(
        () => document.querySelectorAll('[data-node]').length === 3,
        null,
        {
          timeout: 15_000,
        },
      );
      for (const h of lab.hosts)
        await expect(page.locator(`[data-node="${h.name}"]`).count()).resolves.toBe(1);
      await expect(page.locator('#served').textContent()).resolves.toBe(served.name);
      await page.waitForFunction(() => document.querySelector('#live.live') !== null, null, {
        timeout: 10_000,
      });
      // Three polls give the commit-rate chart two intervals.
      await page.waitForFunction(
        () => Number(document.getElementById('chart-commit')?.dataset.points ?? '0') >= 2,
        null,
        { timeout: 15_000 },
      );
      await shot(page, 'cluster');

      await page.goto(`${served.apiUrl}/#services/web`);
      await page.waitForFunction(
        () => Number(document.getElementById('chart-replicas')?.dataset.points ?? '0') > 0,
        null,
        { timeout: 20_000 },
      );
      await page.waitForFunction(
        () => Number(document.getElementById('chart-resources')?.dataset.points ?? '0') > 0,
        null,
        { timeout: 20_000 },
      );
      expect(await chartPoints(page, 'chart-replicas')).toBeGreaterThan(0);
      // Desired 4, over the three nodes, as the API says.
      await page.waitForFunction(
        () => document.querySelector('[data-service="web"] .svc-count')?.textContent === '4/4',
        null,
        { timeout: 60_000 },
      );
      await page.waitForTimeout(4000);
      await shot(page, 'services');

      for (const view of ['ops', 'events', 'decisions', 'chaos', 'trace']) {
        await page.goto(`${served.apiUrl}/#${view}`);
        await page.waitForTimeout(2500);
        await shot(page, view);
      }
      await expect(page.locator('.ev').count()).resolves.toBeGreaterThan(0);
      await page.goto(`${served.apiUrl}/#cluster`);
      await page.waitForTimeout(1500);
      expect(errors).toEqual([]);

      // The leader's agent dies. Watch the serving agent's API and the page side by side.
      const victim = (await api.cluster()).leader!.id;
      expect(victim, 'the page must be served by a follower, not the agent about to die').not.toBe(
        served.name,
      );
      expect(await shownLeader(page)).toBe(victim);
      await lab.killAgent(victim);
      let apiKnewAt: number | undefined;
      let pageShowedAt: number | undefined;
      let next: string | undefined;
      const deadline = performance.now() + 30_000;
      while (
        (apiKnewAt === undefined || pageShowedAt === undefined) &&
        performance.now() < deadline
      ) {
        const [c, shown] = await Promise.all([
          api.cluster().catch(() => undefined),
          shownLeader(page),
        ]);
        const now = performance.now();
        if (apiKnewAt === undefined && c?.leader && c.leader.id !== victim) {
          apiKnewAt = now;
          next = c.leader.id;
        }
        if (pageShowedAt === undefined && shown && shown !== victim) pageShowedAt = now;
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(apiKnewAt, 'the API named a new leader').toBeDefined();
      expect(pageShowedAt, 'the page showed a new leader').toBeDefined();
      expect(await shownLeader(page)).toBe(next);
      const lagMs = Math.max(0, pageShowedAt! - apiKnewAt!);
      console.log(
        `dashboard showed the new leader ${next} ${lagMs.toFixed(0)} ms after the API knew it`,
      );
      expect(lagMs).toBeLessThanOrEqual(2000);
      await page.waitForTimeout(2500);
      await shot(page, 'cluster-after-failover');
      expect(errors).toEqual([]);
      expect(foreign).toEqual([]);
    } finally {
      await browser?.close();
      await lab.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
  }, 300_000);
  it('the decision view explains a scale-up', async () => {
    mkdirSync(SHOTS, { recursive: true });
    const stateDir = makeTempDir('cxdd-');
    const lab = await startSourceLab(stateDir);
    let browser: Browser | undefined;
    try {
      const leader = (await lab.waitForLeader(90_000)).leader!.id;
      await lab.waitForAllNodes(60_000);
      await lab.api(leader).applyService(loadServiceSpec());
      await pollUntil(
        'web at its minimum',
        async () => {
          const web = (await lab.api(leader).services()).services.find((s) => s.name === 'web');
          return web && Object.values(web.running).reduce((a, b) => a + b, 0) === 2
            ? web
            : undefined;
        },
        60_000,
        250,
      );
      await lab.api(leader).scaleService('web', 5);
      const served = lab.hosts.find((h) => h.name !== leader)!;
      const reply = await pollUntil(
        'a scale-up decision for web',
        async () => {
          const r = await fetch(`${served.apiUrl}/v1/services/web/decisions?limit=20`);
          if (!r.ok) return undefined;
          const body = DecisionsReply.parse(await r.json());
          return body.decisions.some((d) => d.desiredReplicas === 5 && d.currentReplicas < 5)
            ? body
            : undefined;
        },
        30_000,
        250,
      );
      const d = reply.decisions.find((x) => x.desiredReplicas === 5 && x.currentReplicas < 5)!;
      expect(d.binding.rule).toBe('manual_pin');
      expect(d.outcome.status).toBe('scaled');
      browser = await launchChromium();
      const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
      const errors = watchErrors(page);
      await page.goto(`${served.apiUrl}/#decisions/web`);
      const card = page.locator(`[data-decision="${d.id}"]`);
      await card.waitFor({ timeout: 10_000 });
      await expect(card.getAttribute('data-direction')).resolves.toBe('up');
      await expect(card.locator('.delta').textContent()).resolves.toContain(
        `${d.currentReplicas} → 5`,
      );
      await expect(card.locator('.rule').textContent()).resolves.toBe('manual pin');
      await expect(card.locator('.why').textContent()).resolves.toBe(d.binding.detail);
      await expect(card.locator('.reason').textContent()).resolves.toBe(d.reason);
      await shot(page, 'decisions-scale-up');
      expect(errors).toEqual([]);
    } finally {
      await browser?.close();
      await lab.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
  }, 300_000);
});
