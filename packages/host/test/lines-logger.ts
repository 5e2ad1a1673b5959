/**
 * A HostLogger that appends one JSON object per line (`level`, `msg`, fields)
 * to an array, at `level` and above: what the supervisor tests read back.
 */
import type { HostLogFields, HostLogger } from '../src/logger.js';

type Level = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function linesLogger(level: Level, lines: string[], base: HostLogFields = {}): HostLogger {
  const emit =
    (lvl: Level) =>
    (message: string, fields?: HostLogFields): void => {
      if (RANK[lvl] < RANK[level]) return;
      lines.push(JSON.stringify({ level: lvl, msg: message, ...base, ...fields }));
    };
  return {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    child: (fields) => linesLogger(level, lines, { ...base, ...fields }),
  };
}
