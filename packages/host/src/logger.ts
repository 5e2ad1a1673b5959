/**
 * What the host adapter needs of a logger: leveled lines with fields, and
 * children that carry fields. The agent's structured logger satisfies it; a
 * benchmark or test passes `silentHostLogger`.
 */
export type HostLogFields = Readonly<Record<string, unknown>>;

export interface HostLogger {
  debug(message: string, fields?: HostLogFields): void;
  info(message: string, fields?: HostLogFields): void;
  warn(message: string, fields?: HostLogFields): void;
  error(message: string, fields?: HostLogFields): void;
  child(fields: HostLogFields): HostLogger;
}

const noop = (): void => {};

/** Drops every line. */
export const silentHostLogger: HostLogger = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentHostLogger,
};
