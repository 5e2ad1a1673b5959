import fc from 'fast-check';
import type { HostileInput, InputKind } from './bytes.js';

/** What a decoder said, reduced to what a campaign counts. */
export type Outcome =
  | { readonly ok: true; readonly value: unknown }
  | {
      readonly ok: false;
      /** A stable error code (`COX_...`), or a label the adapter derived from an untyped error. */
      readonly code: string;
      /** False when the decoder's error carries no stable code of its own (a bare string). */
      readonly typed: boolean;
    };

export interface FuzzTarget {
  readonly name: string;
  readonly inputs: fc.Arbitrary<HostileInput>;
  /** Adapts one decoder; must not catch what the decoder throws (the loop counts that as a crash). */
  decode(payload: Uint8Array): Outcome;
  /**
   * Checks an accepted value (re-encodes and compares, for example); returns the
   * name of what is wrong with it, or undefined. Catches garbage a decoder lets through.
   */
  check?(value: unknown, payload: Uint8Array): string | undefined;
}

export interface Crash {
  readonly kind: InputKind;
  readonly error: string;
  /** The first 512 bytes of the input, hex. */
  readonly payloadHex: string;
  readonly payloadBytes: number;
}

export interface TargetReport {
  readonly name: string;
  readonly inputs: number;
  readonly accepted: number;
  readonly rejectedByCode: Record<string, number>;
  /** Rejections whose error had no stable code. */
  readonly untypedRejections: number;
  readonly byKind: Partial<Record<InputKind, number>>;
  readonly crashes: readonly Crash[];
  readonly crashCount: number;
  /** Accepted inputs that failed `check`, by what was wrong. */
  readonly findings: Record<string, number>;
  readonly findingExamples: Record<string, string>;
  /** Time inside the decoder only (ms). */
  readonly decodeMs: number;
  /** Slowest single input (ms): a hang shows here, since decoders are synchronous. */
  readonly maxInputMs: number;
  readonly maxInputKind: InputKind | undefined;
  /** Generation and decoding together (ms). */
  readonly wallMs: number;
}

export interface RunOptions {
  readonly inputs: number;
  readonly seed: number;
  /** Inputs generated per fast-check sample call. */
  readonly batch?: number;
}

const hex = (b: Uint8Array): string => Buffer.from(b.subarray(0, 512)).toString('hex');

/**
 * Feeds `inputs` hostile inputs to one decoder and counts what happened. It
 * keeps going after a crash (and keeps the first 20), so one campaign reports
 * every family of failure, not just the first.
 */
export function runTarget(target: FuzzTarget, options: RunOptions): TargetReport {
  const batch = options.batch ?? 500;
  const rejectedByCode: Record<string, number> = {};
  const byKind: Partial<Record<InputKind, number>> = {};
  const findings: Record<string, number> = {};
  const findingExamples: Record<string, string> = {};
  const crashes: Crash[] = [];
  let crashCount = 0;
  let accepted = 0;
  let untypedRejections = 0;
  let decodeMs = 0;
  let maxInputMs = 0;
  let maxInputKind: InputKind | undefined;
  let done = 0;
  const started = performance.now();
  for (let round = 0; done < options.inputs; round++) {
    const n = Math.min(batch, options.inputs - done);
    const inputs = fc.sample(target.inputs, { numRuns: n, seed: options.seed + round });
    for (const input of inputs) {
      byKind[input.kind] = (byKind[input.kind] ?? 0) + 1;
      const t0 = performance.now();
      let outcome: Outcome;
      try {
        outcome = target.decode(input.payload);
      } catch (error) {
        crashCount++;
        if (crashes.length < 20) {
          crashes.push({
            kind: input.kind,
            error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
            payloadHex: hex(input.payload),
            payloadBytes: input.payload.length,
          });
        }
        continue;
      } finally {
        const dt = performance.now() - t0;
        decodeMs += dt;
        if (dt > maxInputMs) {
          maxInputMs = dt;
          maxInputKind = input.kind;
        }
      }
      if (outcome.ok) {
        accepted++;
        const problem = target.check?.(outcome.value, input.payload);
        if (problem !== undefined) {
          findings[problem] = (findings[problem] ?? 0) + 1;
          findingExamples[problem] ??= hex(input.payload);
        }
      } else {
        rejectedByCode[outcome.code] = (rejectedByCode[outcome.code] ?? 0) + 1;
        if (!outcome.typed) untypedRejections++;
      }
    }
    done += n;
  }
  return {
    name: target.name,
    inputs: done,
    accepted,
    rejectedByCode,
    untypedRejections,
    byKind,
    crashes,
    crashCount,
    findings,
    findingExamples,
    decodeMs,
    maxInputMs,
    maxInputKind,
    wallMs: performance.now() - started,
  };
}
