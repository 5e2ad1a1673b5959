// pnpm --filter @coxswain/dashboard build:page — writes page/index.html from web/.
import { writeFileSync } from 'node:fs';
import { buildPage } from '../src/build-page.js';
import { DASHBOARD_PATH } from '../src/index.js';

const html = await buildPage();
writeFileSync(DASHBOARD_PATH, html);
console.log(`wrote ${DASHBOARD_PATH} (${Math.round(html.length / 1024)} KiB)`);
