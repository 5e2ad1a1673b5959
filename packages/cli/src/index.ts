export { readTrace } from './commands/forecast.js';
export { registerCommands } from './commands/index.js';
// The demo's parts, for bench/policies-real.ts: one lab, two copies of the chain under two policies.
export {
  alive,
  apiOfAnyHost,
  type Counts,
  DEFAULT_DEMO_TRACE,
  DEMO_SERVICES,
  DemoAborted,
  demoLabOptions,
  demoRate,
  freePort,
  netnsList,
  sampleCluster,
  type TrackedLab,
  trackLabProcesses,
  waitForChain,
  watchEndpoints,
  withDescendants,
  withRetry,
} from './commands/lab-demo.js';
export {
  htmlPathOf,
  loadUplotAssets,
  renderDemoReportHtml,
  type UplotAssets,
} from './commands/lab-demo-html.js';
export { type NginxAccess, NginxFront, parseAccessLog } from './commands/lab-demo-nginx.js';
export { DEMO_POLICIES, demoPolicyRef, parseDemoPolicy } from './commands/lab-demo-policy.js';
export {
  type DecisionSeen,
  type ReplicaSample,
  replicaSecondsOf,
  serviceReport,
  sloSecondsOf,
} from './commands/lab-demo-report.js';
export type { DemoServiceView } from './commands/lab-demo-view.js';
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
