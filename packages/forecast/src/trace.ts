import { z } from 'zod';
import { TraceParseError } from './errors.js';

/** One row of a trace file: the bin's start in seconds from 0 and the request count in that bin. */
export const TraceRow = z.object({
  t_seconds: z.number().finite().nonnegative(),
  requests: z.number().finite().nonnegative(),
});
export type TraceRow = z.output<typeof TraceRow>;

/** A request-count series at a fixed bin width. */
export interface Trace {
  readonly name: string;
  readonly stepSeconds: number;
  /** Requests per bin. */
  readonly counts: Float64Array;
}

const HEADER = 't_seconds,requests';

/**
 * Parses a `t_seconds,requests` CSV (the format of the repository's traces/). Every
 * row is validated; the first bad one throws a TraceParseError naming the file
 * and the 1-based line. Bins must be evenly spaced, as the models assume a
 * fixed step.
 */
export function parseTrace(text: string, file: string): Trace {
  const lines = text.split(/\r?\n/);
  if (lines[0]?.trim() !== HEADER) {
    throw new TraceParseError(
      file,
      1,
      `expected the header ${JSON.stringify(HEADER)}, found ${JSON.stringify(lines[0] ?? '')}`,
    );
  }
  const times: number[] = [];
  const counts: number[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const cells = line.split(',');
    if (cells.length !== 2)
      throw new TraceParseError(
        file,
        i + 1,
        `expected 2 comma-separated columns, found ${cells.length}`,
      );
    const row = TraceRow.safeParse({
      t_seconds: toNumber(cells[0]!),
      requests: toNumber(cells[1]!),
    });
    if (!row.success) {
      const issue = row.error.issues[0]!;
      throw new TraceParseError(
        file,
        i + 1,
        `${String(issue.path[0])}: ${issue.message} (row ${JSON.stringify(line)})`,
      );
    }
    times.push(row.data.t_seconds);
    counts.push(row.data.requests);
  }
  if (counts.length < 2)
    throw new TraceParseError(file, lines.length, 'a trace needs at least two rows');
  const step = times[1]! - times[0]!;
  if (!(step > 0))
    throw new TraceParseError(file, 3, `t_seconds must increase, got ${times[0]} then ${times[1]}`);
  for (let i = 1; i < times.length; i++) {
    if (Math.abs(times[i]! - times[i - 1]! - step) > 1e-6 * step) {
      throw new TraceParseError(
        file,
        lineOfRow(lines, i),
        `bins must be evenly spaced by ${step} s; t_seconds jumps from ${times[i - 1]} to ${times[i]}`,
      );
    }
  }
  return {
    name: file.replace(/^.*\//, '').replace(/\.csv$/, ''),
    stepSeconds: step,
    counts: Float64Array.from(counts),
  };
}

// Number('') is 0 and Number(' 1') is 1: an empty cell must be an error, not a zero.
function toNumber(cell: string): number | string {
  const s = cell.trim();
  if (s === '') return cell;
  const v = Number(s);
  return Number.isNaN(v) ? cell : v;
}

function lineOfRow(lines: readonly string[], row: number): number {
  let seen = -1;
  for (let i = 1; i < lines.length; i++) {
    if (lines[i]!.trim() === '') continue;
    seen++;
    if (seen === row) return i + 1;
  }
  return lines.length;
}

/** Sums consecutive bins into bins `factor` times wider (a trailing partial bin is dropped). */
export function aggregate(counts: ArrayLike<number>, factor: number): Float64Array {
  const f = Math.max(1, Math.floor(factor));
  const out = new Float64Array(Math.floor(counts.length / f));
  for (let i = 0; i < out.length; i++) {
    let s = 0;
    for (let j = 0; j < f; j++) s += counts[i * f + j]!;
    out[i] = s;
  }
  return out;
}

/** Counts per bin to requests per second. */
export function toRates(counts: ArrayLike<number>, stepSeconds: number): Float64Array {
  return Float64Array.from(counts as ArrayLike<number>, (c) => c / stepSeconds);
}
