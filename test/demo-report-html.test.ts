/// <reference lib="dom" />
/**
 * The demo's HTML report in a real browser (Debian's chromium through playwright-core, headless,
 * --no-sandbox as root), rendered from a fixture report that its schema accepts: the page asks
 * for nothing beyond its own file, logs no error, draws one uPlot chart per service from the
 * series (canvases with pixels on them), and shows the figures of the tables. A decision reason
 * carrying markup stays text. The real demo writing this file is checked in demo-lab.test.ts.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { htmlPathOf, loadUplotAssets, renderDemoReportHtml } from '@coxswain/cli';
import { type DemoReport, DemoReport as DemoReportSchema } from '@coxswain/protocol';
import { makeTempDir } from '@coxswain/testkit';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HOSTILE = '</script><script>window.__injected = 1</script><b>bold</b>';

/** A 120-s run: order rises to 4 replicas and back, storage and account follow at half. */
function fixtureReport(): DemoReport {
  const service = (name: string, factor: number, replicaSeconds: number, overSlo: number) => {
    const series = Array.from({ length: 120 }, (_, t) => {
      const offered = factor * 20 * Math.sin((Math.PI * t) / 120);
      const desired = Math.max(1, Math.ceil(offered / 5));
      return {
        atSeconds: t,
        offeredRps: t === 0 ? null : Math.round(offered * 100) / 100,
        measuredRps: t < 3 ? null : Math.round(offered * 90) / 100,
        forecastRps: t < 5 ? null : Math.round(offered * 110) / 100,
        desired,
        running: t > 2 ? desired : 1,
      };
    });
    return {
      name,
      requests: Math.round(1500 * factor),
      ok: Math.round(1500 * factor) - 2,
      okPercent: 99.87,
      statuses: { '200': Math.round(1500 * factor) - 2, '502': 2 },
      p50Ms: 12.3,
      p95Ms: 87.6,
      p99Ms: 140.2,
      sloP95Ms: 300,
      secondsOverSlo: overSlo,
      secondsWithRequests: 118,
      replicaSeconds,
      minReplicas: 1,
      maxReplicas: 4,
      scaleUps: 3,
      scaleDowns: 3,
      decisions: [
        { atSeconds: 20.5, from: 1, to: 2, reason: 'forecast 9.1 req/s → 2' },
        { atSeconds: 95.2, from: 2, to: 1, reason: HOSTILE },
      ],
      series,
    };
  };
  return DemoReportSchema.parse({
    startedAt: '2026-12-03T09:00:00.000Z',
    setupSeconds: 41.2,
    loadSeconds: 120.1,
    totalSeconds: 175.4,
    trace: {
      file: 'traces/nasa_jul95_per_minute.csv',
      fromSeconds: 0,
      traceSeconds: 86400,
      speedup: 720,
      peakRps: 20,
    },
    load: { sent: 1500, ok: 1498, errors: 2, dropped: 0, p50Ms: 15, p95Ms: 95, p99Ms: 150 },
    nginxReloads: 9,
    nginxErrors: { 'no live upstreams': 2 },
    services: [
      service('order', 1, 263, 7),
      service('storage', 0.5, 171, 0),
      service('account', 0.5, 168, 1),
    ],
    chaos: {
      experiment: 'demo-kill-leader-host',
      status: 'completed',
      verdict: 'passed',
      atSeconds: 66,
      killedHost: 'host-2',
      leaderBefore: 'host-2',
      leaderAfter: 'host-1',
      phases: [
        { phase: 'detect', ms: 1834, slaMs: 5000, met: true },
        { phase: 'decide', ms: 2417, slaMs: 10000, met: true },
        { phase: 'recover', ms: 7391, slaMs: 30000, met: true },
      ],
      journalFile: '/tmp/state/journal-demo-kill-leader-host.json',
    },
    outcome: 'completed',
    cleanup: { pids: [11, 12, 13], netns: ['a', 'b', 'c'], leftRunning: [] },
  });
}

describe('the demo report in chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    expect(existsSync(CHROMIUM), `no chromium at ${CHROMIUM}: apt-get install -y chromium`).toBe(
      true,
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('is one file that draws a chart per service and shows the figures, with no errors', async () => {
    const dir = makeTempDir('cox-demo-html-');
    const report = fixtureReport();
    const file = htmlPathOf(join(dir, 'demo-report.txt'));
    expect(file).toBe(join(dir, 'demo-report.html'));
    const html = renderDemoReportHtml(report, loadUplotAssets());
    writeFileSync(file, html);
    // Self-contained: no element loads anything by address.
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i);

    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(file).href);
    await page.waitForFunction(() => document.body.dataset.charts === 'drawn', undefined, {
      timeout: 10_000,
    });

    expect(errors).toEqual([]);
    expect(requests).toEqual([pathToFileURL(file).href]);

    // One chart per service, each from its 120 points, with something drawn on its canvas.
    const charts = await page.locator('.chart').evaluateAll((els) =>
      els.map((el) => {
        const canvas = el.querySelector('canvas');
        let inked = 0;
        if (canvas) {
          const ctx = canvas.getContext('2d')!;
          const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
          for (let i = 3; i < pixels.length; i += 4) if (pixels[i]! > 0) inked++;
        }
        return {
          service: (el as HTMLElement).dataset.service,
          points: Number((el as HTMLElement).dataset.points),
          canvas: canvas !== null,
          inked,
          legend: Array.from(el.querySelectorAll('.u-legend .u-label'), (l) => l.textContent),
        };
      }),
    );
    expect(charts.map((c) => c.service)).toEqual(['order', 'storage', 'account']);
    for (const c of charts) {
      expect(c.points, c.service).toBe(120);
      expect(c.canvas, c.service).toBe(true);
      expect(c.inked, c.service).toBeGreaterThan(1000);
      expect(c.legend).toEqual(
        expect.arrayContaining([
          'offered (nginx)',
          'measured (agents)',
          'forecast',
          'desired',
          'running',
        ]),
      );
    }

    // The figures: time over the SLO, replica-seconds, scale actions, the chaos phases.
    const services = await page.locator('#services tbody tr').allInnerTexts();
    expect(services).toHaveLength(3);
    expect(services[0]).toMatch(
      /^order\t1500\t99\.87\t12\.3\t87\.6\t140\.2\t300 ms\t7 of 118 s\t263\t1\.\.4\t3 \/ 3$/,
    );
    expect(await page.locator('.replica-seconds').allInnerTexts()).toEqual(['263', '171', '168']);
    expect(await page.locator('.over-slo').allInnerTexts()).toEqual(['7', '0', '1']);
    const phases = await page.locator('.phase-ms').allInnerTexts();
    expect(phases).toEqual(['1834 ms', '2417 ms', '7391 ms']);
    // biome-ignore lint/performance/useDomNodeTextContent: what a reader sees; textContent would include the embedded JSON
    const body = await page.locator('body').innerText();
    expect(body).toContain('demo-kill-leader-host');
    expect(body).toContain('PASSED');
    expect(body).toContain('killed host-2 (leader host-2); new leader host-1');
    expect(body).toContain('no live upstreams ×2');
    expect(body).toContain('Nothing left running (3 processes and 3 namespaces checked)');

    // The markup in a reason is shown as text, and ran nowhere.
    expect(body).toContain(HOSTILE);
    expect(await page.evaluate(() => (window as { __injected?: number }).__injected)).toBe(
      undefined,
    );
    await page.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('says so where a run ended with too few samples to chart', async () => {
    const base = fixtureReport();
    const report = {
      ...base,
      outcome: 'interrupted',
      chaos: null,
      services: base.services.map((s) => ({ ...s, series: s.series.slice(0, 1) })),
    };
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.setContent(renderDemoReportHtml(report, loadUplotAssets()));
    await page.waitForFunction(() => document.body.dataset.charts === 'drawn');
    expect(errors).toEqual([]);
    expect(await page.locator('.chart canvas').count()).toBe(0);
    expect(await page.locator('.chart.empty').count()).toBe(3);
    expect(await page.locator('#chaos').textContent()).toContain('not run');
    await page.close();
  });
});
