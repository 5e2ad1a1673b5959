/**
 * Structured logger. JSON lines when stdout is not a terminal (so journald, Docker
 * and log shippers get one object per line), a readable line when it is. Child
 * loggers carry fields (`service`, `containerId`) so call sites do not repeat them.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'auto' | 'json' | 'pretty';
export type LogFields = Readonly<Record<string, unknown>>;

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
  readonly level: LogLevel;
}

export interface LoggerOptions {
  readonly level?: LogLevel;
  readonly format?: LogFormat;
  /** Where lines go; defaults to process.stdout. Tests pass an array sink. */
  readonly write?: (line: string) => void;
  readonly isTTY?: boolean;
  readonly fields?: LogFields;
}

/** Errors do not survive JSON.stringify (their fields are not enumerable); keep what helps a reader. */
function serialise(value: unknown): unknown {
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: value.message };
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out.code = code;
    if (value.cause !== undefined) out.cause = serialise(value.cause);
    return out;
  }
  return value;
}

function prettyValue(value: unknown): string {
  const v = serialise(value);
  if (typeof v === 'string') return /\s/.test(v) ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const isTTY = options.isTTY ?? process.stdout.isTTY === true;
  const format = options.format ?? 'auto';
  const json = format === 'json' || (format === 'auto' && !isTTY);
  const min = LEVEL_RANK[level];

  const make = (base: LogFields): Logger => {
    const emit = (lvl: LogLevel, message: string, fields?: LogFields): void => {
      if (LEVEL_RANK[lvl] < min) return;
      const all: Record<string, unknown> = { ...base, ...fields };
      if (json) {
        const record: Record<string, unknown> = {
          time: new Date().toISOString(),
          level: lvl,
          msg: message,
        };
        for (const [k, v] of Object.entries(all)) record[k] = serialise(v);
        let line: string;
        try {
          line = JSON.stringify(record);
        } catch {
          // A cyclic field must not take the logger (and the agent) down.
          line = JSON.stringify({
            time: record.time,
            level: lvl,
            msg: message,
            fields: '[unserialisable]',
          });
        }
        write(line);
      } else {
        const extras = Object.entries(all)
          .map(([k, v]) => `${k}=${prettyValue(v)}`)
          .join(' ');
        const time = new Date().toISOString().slice(11, 23);
        write(`${time} ${lvl.toUpperCase().padEnd(5)} ${message}${extras ? ` ${extras}` : ''}`);
      }
    };
    return {
      level,
      debug: (m, f) => emit('debug', m, f),
      info: (m, f) => emit('info', m, f),
      warn: (m, f) => emit('warn', m, f),
      error: (m, f) => emit('error', m, f),
      child: (fields) => make({ ...base, ...fields }),
    };
  };
  return make(options.fields ?? {});
}

/** A logger that drops everything: for library callers and tests that do not care. */
export const silentLogger: Logger = createLogger({ level: 'error', write: () => {} });
