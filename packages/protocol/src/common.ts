import { z } from 'zod';

/** Wire format version carried by every message, so a mixed-version cluster can refuse cleanly. */
export const PROTOCOL_VERSION = 1 as const;
export const VersionField = z.literal(PROTOCOL_VERSION);

/** Names that become NATS subject tokens or Docker labels: no dots, wildcards or spaces. */
export const Name = z
  .string()
  .min(1)
  .max(63)
  .regex(
    /^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$/,
    'lowercase letters, digits, "-" and "_", starting and ending alphanumeric',
  );

export const NodeId = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, "-" and "_"');

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A duration in milliseconds, written as a number of ms or as "250ms", "1s", "1.5m", "2h". */
export const DurationMs = z.union([
  z.number().nonnegative().finite(),
  z
    .string()
    .regex(/^\d+(\.\d+)?(ms|s|m|h)$/, 'a duration such as "500ms", "1s", "2m"')
    .transform((text) => {
      const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text)!;
      return Number(match[1]) * UNIT_MS[match[2]!]!;
    }),
]);

/** Bytes, written as a number or "256m", "1g", "512k" (binary units, as Docker does). */
export const ByteSize = z.union([
  z.number().int().nonnegative(),
  z
    .string()
    .regex(/^\d+(\.\d+)?[kmg]i?b?$/i, 'a size such as "256m" or "1g"')
    .transform((text) => {
      const match = /^(\d+(?:\.\d+)?)([kmg])/i.exec(text)!;
      const power = { k: 1, m: 2, g: 3 }[match[2]!.toLowerCase() as 'k' | 'm' | 'g'];
      return Math.round(Number(match[1]) * 1024 ** power);
    }),
]);

/** Wall-clock milliseconds since the epoch: for reports and logs only, never for timeouts. */
export const EpochMs = z.number().int().nonnegative();
