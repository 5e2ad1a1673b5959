/**
 * The web dashboard the agent serves at `/`: one self-contained HTML page (no
 * build step, no framework, no external assets) that reads the cluster state
 * API of the agent that served it. It lives as a real .html file beside src/
 * so it can be edited and opened as what it is; the path resolves the same
 * from src/ (tests, tsx) and dist/ (the built package).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Absolute path of the page on disk. */
export const DASHBOARD_PATH: string = fileURLToPath(new URL('../page/index.html', import.meta.url));

let cached: string | undefined;

/** The page's HTML, read once and kept. */
export function dashboardHtml(): string {
  cached ??= readFileSync(DASHBOARD_PATH, 'utf8');
  return cached;
}
