export {
  LabAbortedError,
  LabConfigError,
  LabStateError,
  NoSuchLabHostError,
  ScenarioStepError,
} from './errors.js';
export {
  DEFAULT_AGENT_BIN,
  DEFAULT_LAB_SERVICES,
  Lab,
  type LabEvent,
  type LabHost,
  type LabImage,
  type LabOptions,
  type LabServiceSeed,
} from './lab.js';
export {
  runScenario,
  SCENARIOS,
  type ScenarioName,
  type ScenarioOptions,
  type ScenarioOutcome,
} from './lab-scenario.js';
export { type LabNatsCredentials, type LabSecurity, makeLabSecurity } from './lab-security.js';
export { type LabSigning, makeLabSigning } from './lab-signing.js';
export {
  type LabClusterView,
  type LabEventView,
  type LabHostView,
  type LabView,
  renderLabTable,
} from './lab-table.js';
export { DEMO_SAMPLES_DIR, loadServiceSpec, SAMPLE_SERVICE_PATH } from './sample-service.js';
export { claimStateDir } from './state-lock.js';
