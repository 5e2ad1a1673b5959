import { z } from 'zod';

/**
 * The point-forecast models. Each is an online state machine: `update` takes
 * the next observation in O(1) (a seasonal model touches one seasonal slot),
 * `forecast(h)` extrapolates h steps past the last observation in O(1).
 */
export const ModelSpec = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('naive') }),
  z.object({ kind: z.literal('seasonal-naive'), season: z.number().int().min(1) }),
  z.object({ kind: z.literal('ewma'), alpha: z.number().gt(0).max(1) }),
  z.object({ kind: z.literal('median'), window: z.number().int().min(1).max(1000) }),
  z.object({
    kind: z.literal('holt'),
    alpha: z.number().gt(0).max(1),
    beta: z.number().min(0).max(1),
    /** Trend damping; 1 is Holt's linear trend, below 1 flattens long-horizon forecasts. */
    phi: z.number().gt(0).max(1).default(1),
  }),
  z.object({
    kind: z.enum(['hw-additive', 'hw-multiplicative']),
    season: z.number().int().min(2),
    alpha: z.number().gt(0).max(1),
    beta: z.number().min(0).max(1),
    gamma: z.number().min(0).max(1),
    phi: z.number().gt(0).max(1).default(1),
  }),
]);
export type ModelSpec = z.input<typeof ModelSpec>;
export type ModelKind = ModelSpec['kind'];

export const MODEL_KINDS: readonly ModelKind[] = [
  'naive',
  'seasonal-naive',
  'ewma',
  'median',
  'holt',
  'hw-additive',
  'hw-multiplicative',
];

export interface PointModel {
  readonly kind: ModelKind;
  /** Kind and parameters, for tables and decision reasons. */
  readonly label: string;
  /** Observations taken so far. */
  readonly count: number;
  update(y: number): void;
  /** Forecast h >= 1 steps after the last observation; NaN before the first one. */
  forecast(h: number): number;
}

/** Sum phi + phi^2 + ... + phi^h: how many trend steps a damped forecast adds at horizon h. */
export function dampedSteps(phi: number, h: number): number {
  if (phi === 1) return h;
  return (phi * (1 - phi ** h)) / (1 - phi);
}

export const fmtParam = (n: number): string => String(Number(n.toPrecision(3)));
