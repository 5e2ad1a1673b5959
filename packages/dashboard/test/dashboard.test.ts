import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildPage } from '../src/build-page.js';
import { DASHBOARD_PATH, dashboardHtml } from '../src/index.js';

describe('the dashboard page', () => {
  it('is one self-contained HTML page: no external scripts, styles, fonts or URLs', () => {
    const html = dashboardHtml();
    expect(html).toBe(readFileSync(DASHBOARD_PATH, 'utf8'));
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script[^>]+src=/i);
    expect(html).not.toMatch(/<link[^>]+stylesheet/i);
    expect(html).not.toMatch(/(src|href)=["']https?:/i);
    expect(html).not.toMatch(/@import|url\(["']?https?:/i);
  });

  it('is the build of web/: the committed page is not stale (pnpm --filter @coxswain/dashboard build:page)', async () => {
    expect(await buildPage()).toBe(dashboardHtml());
  });

  it('bundles uPlot and reads the API it is served with, following /v1/events', () => {
    const html = dashboardHtml();
    expect(html).toContain('uplot');
    for (const path of [
      '/v1/cluster',
      '/v1/nodes',
      '/v1/services',
      '/v1/commands',
      '/v1/locks',
      '/v1/events',
      '/v1/traces',
      '/decisions',
    ]) {
      expect(html).toContain(path);
    }
    expect(html).toContain('new EventSource(');
  });

  it('its script parses', () => {
    const script = /<script>([\s\S]*)<\/script>/.exec(dashboardHtml())?.[1];
    expect(script).toBeDefined();
    // Compiles without running: a syntax error in the page fails here, not in a browser.
    expect(() => new Function(script!)).not.toThrow();
  });
});
