export { AutoForecaster, type AutoForecasterOptions, type ModelScore } from './auto-forecaster.js';
export {
  type BacktestOptions,
  type BacktestResult,
  type BacktestRow,
  backtest,
} from './backtest.js';
export { BurstHeadroom, type BurstHeadroomOptions } from './burst-headroom.js';
export { CapacityModel, type CapacityModelOptions, type CapacitySample } from './capacity-model.js';
export { type ChartOptions, renderComparisonHtml } from './chart.js';
export {
  COMPARISON_ENTRIES,
  type ComparisonEntry,
  type ComparisonOptions,
  type ComparisonSetup,
  comparisonSetup,
  isComparisonEntry,
  runComparison,
  runEntry,
} from './comparison.js';
export { createModel } from './create-model.js';
export { erlangC, sojournQuantile, sojournTail } from './erlang.js';
export {
  InvalidPolicyParamsError,
  InvalidSeriesError,
  TraceParseError,
  UnknownPolicyError,
} from './errors.js';
export {
  type Fold,
  finalCandidate,
  goalDistance,
  leaveOneOut,
  selectCandidate,
  type Verdict,
  verdict,
} from './evaluation.js';
export { EwmaModel } from './ewma.js';
export { candidateGrid, fitModel, oneStepMae } from './fit.js';
export { HoltModel } from './holt.js';
export { HoltWintersModel } from './holt-winters.js';
export {
  type HpaMetric,
  HpaParams,
  type HpaState,
  hpaMetricReplicas,
  hpaPolicy,
  hpaScaleDownLimit,
  hpaScaleUpLimit,
} from './hpa-policy.js';
export {
  emptyLearnedTable,
  LearnedParams,
  LearnedState,
  LearnedTable,
  learnedPolicy,
} from './learned-policy.js';
export { type TrainOptions, trainingTraces, trainLearnedTable } from './learned-train.js';
export { MedianModel } from './median.js';
export { dampedSteps, MODEL_KINDS, type ModelKind, ModelSpec, type PointModel } from './model.js';
export { NaiveModel, SeasonalNaiveModel } from './naive.js';
export {
  type Interval,
  OnlineForecaster,
  type OnlineForecasterOptions,
} from './online-forecaster.js';
export {
  createPolicyRunner,
  DEFAULT_POLICY,
  isPolicyName,
  POLICIES,
  POLICY_NAMES,
  type PolicyName,
  type PolicyRunner,
  type RunnerDecision,
} from './policies.js';
export {
  clampReplicas,
  type PolicyContext,
  type PolicyDecision,
  type PolicyObservation,
  type ScalingPolicy,
} from './policy.js';
export { PredictiveParams, PredictiveState, predictivePolicy } from './predictive-policy.js';
export { ResidualWindow } from './residual-window.js';
export {
  bandScore,
  type ScoreBreakdown,
  ScoreParams,
  type ScoreState,
  scoreFigures,
  scorePolicy,
} from './score-policy.js';
export {
  autocorrelation,
  detectSeason,
  detectSeasons,
  type SeasonDetectOptions,
} from './season-detect.js';
export { type EpisodeCause, episodeCause, type SloEpisode } from './sim-fleet.js';
export {
  autoCapacity,
  SimulationConfig,
  type SimulationConfigInput,
  type SimulationPoint,
  type SimulationResult,
  simulate,
} from './simulator.js';
export { linearFit, mean, quantile, quantileSorted, seasonalNaiveMae } from './stats.js';
export {
  EVALUATION_SEED_BASE,
  SYNTHETIC_FAMILIES,
  type SyntheticFamily,
  seededRandom,
  syntheticTrace,
  syntheticTraces,
} from './synthetic.js';
export { TargetTrackingParams, targetTrackingPolicy } from './target-tracking-policy.js';
export { ThresholdParams, type ThresholdState, thresholdPolicy } from './threshold-policy.js';
export { aggregate, parseTrace, type Trace, TraceRow, toRates } from './trace.js';
export { type WarmPoolInput, warmPoolSize } from './warm-pool.js';
