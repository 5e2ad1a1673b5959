export {
  Advice,
  type AdviceResult,
  Advisor,
  AdvisorConfig,
  AdvisorConfigFile,
  type AdvisorConfigInput,
  type AdvisorDeps,
  AdvisorError,
  type AdvisorErrorCode,
  AdvisorFigures,
} from './advisor.js';
export {
  type AdviceClamp,
  type AdviceKey,
  type AppliedAdvice,
  applyAdvice,
  policyClamps,
} from './apply.js';
