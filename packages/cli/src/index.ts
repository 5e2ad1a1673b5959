export { registerCommands } from './commands/index.js';
export {
  htmlPathOf,
  loadUplotAssets,
  renderDemoReportHtml,
  type UplotAssets,
} from './commands/lab-demo-html.js';
export {
  maxRateOf,
  nextArrival,
  type RateAt,
  SHAPES,
  type Shape,
  shapeRate,
  traceRate,
  traceSeconds,
} from './commands/load-rate.js';
export { type LoadOptions, type LoadSummary, runLoad, seededRandom } from './commands/load-run.js';
