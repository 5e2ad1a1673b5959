import { EwmaModel } from './ewma.js';
import { HoltModel } from './holt.js';
import { HoltWintersModel } from './holt-winters.js';
import { MedianModel } from './median.js';
import { ModelSpec, type PointModel } from './model.js';
import { NaiveModel, SeasonalNaiveModel } from './naive.js';

/** Builds a fresh model from a (validated) spec. Throws zod's error on a bad spec: specs come from code, not the network. */
export function createModel(input: ModelSpec): PointModel {
  const spec = ModelSpec.parse(input);
  switch (spec.kind) {
    case 'naive':
      return new NaiveModel();
    case 'seasonal-naive':
      return new SeasonalNaiveModel(spec.season);
    case 'ewma':
      return new EwmaModel(spec.alpha);
    case 'median':
      return new MedianModel(spec.window);
    case 'holt':
      return new HoltModel(spec.alpha, spec.beta, spec.phi);
    case 'hw-additive':
    case 'hw-multiplicative':
      return new HoltWintersModel(
        spec.kind === 'hw-additive' ? 'additive' : 'multiplicative',
        spec.season,
        spec.alpha,
        spec.beta,
        spec.gamma,
        spec.phi,
      );
  }
}
