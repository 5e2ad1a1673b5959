import {
  AgentConfig,
  ApiReply,
  ApiRequest,
  ClusterCommand,
  ClusterEvent,
  ClusterStateSnapshot,
  CommandsQuery,
  CoxswainError,
  DEFAULT_MAX_PAYLOAD_BYTES,
  DEFAULT_MAX_YAML_BYTES,
  type DecodeResult,
  decode,
  decodeYaml,
  EventsQuery,
  encode,
  MAX_COMMAND_BYTES,
  MAX_REPORT_BYTES,
  NodeReport,
  ReadQuery,
  ScaleCommand,
  ScaleReply,
  ServiceQuery,
  ServiceScaleBody,
  ServiceSpec,
  validate,
} from '@coxswain/protocol';
import fc from 'fast-check';
import type { z } from 'zod';
import { type HostileInput, mutatedBytes, truncatedBytes } from './bytes.js';
import type { FuzzTarget, Outcome } from './campaign.js';
import { hostileJson } from './hostile-json.js';
import * as S from './samples.js';

const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();

function outcomeOf(result: DecodeResult<unknown>): Outcome {
  if (result.ok) return { ok: true, value: result.value };
  const { error } = result;
  const typed = error instanceof CoxswainError && /^COX_[A-Z_]+$/.test(error.code);
  return { ok: false, code: typed ? error.code : `untyped:${String(error)}`, typed };
}

/**
 * An accepted value must be sendable again (its own schema accepts it) and
 * decode to the same thing: otherwise the decoder let through something its
 * own encoder would refuse, or changed it on the way.
 */
function roundTrip(schema: z.ZodType, maxBytes: number): (value: unknown) => string | undefined {
  return (value) => {
    let bytes: Uint8Array;
    try {
      bytes = encode(schema, value as never);
    } catch (error) {
      return `accepted but not re-encodable (${(error as Error).message.slice(0, 80)})`;
    }
    const again = decode(schema, bytes, { maxBytes: Math.max(maxBytes, bytes.length) });
    if (!again.ok) return 'accepted but its re-encoding is refused';
    return JSON.stringify(again.value) === JSON.stringify(value)
      ? undefined
      : 'round trip changed the value';
  };
}

function jsonTarget(
  name: string,
  schema: z.ZodType,
  samples: readonly unknown[],
  maxBytes: number,
): FuzzTarget {
  return {
    name,
    inputs: hostileJson({ samples, maxBytes }),
    decode: (payload) => outcomeOf(decode(schema, payload, { where: name, maxBytes })),
    check: roundTrip(schema, maxBytes),
  };
}

/**
 * API query strings: the API validates the object it builds from the URL's
 * search params (one value per key). A payload that is a JSON object is that
 * object; any other payload is taken as the raw query string.
 */
function queryTarget(name: string, schema: z.ZodType): FuzzTarget {
  const rawQueries = fc
    .tuple(fc.constantFrom(...S.querySamples), fc.string({ unit: 'binary', maxLength: 40 }))
    .map(([q, junk]) => {
      const text = `${new URLSearchParams(q as Record<string, string>).toString()}&${encodeURIComponent(junk)}=${junk}`;
      return { kind: 'structural', payload: textEncoder.encode(text) } satisfies HostileInput;
    });
  return {
    name,
    inputs: fc.oneof(hostileJson({ samples: S.querySamples, maxBytes: 8192 }), rawQueries),
    decode: (payload) => {
      const text = textDecoder.decode(payload);
      let object: unknown;
      try {
        object = JSON.parse(text);
      } catch {
        object = undefined;
      }
      if (object === null || typeof object !== 'object' || Array.isArray(object))
        object = Object.fromEntries(new URLSearchParams(text));
      return outcomeOf(validate(schema, object, 'query'));
    },
  };
}

/** The agent's config file: the same YAML parse and schema the loader applies, over JSON and YAML text. */
function configTarget(): FuzzTarget {
  const yamlBytes = [textEncoder.encode(S.agentConfigYaml)];
  const yamlInputs = fc.oneof(
    truncatedBytes(yamlBytes),
    mutatedBytes(yamlBytes),
    fc
      .constantFrom(...S.yamlAttacks)
      .map((t) => ({ kind: 'structural', payload: textEncoder.encode(t) }) satisfies HostileInput),
  );
  return {
    name: 'agent-config (YAML file)',
    inputs: fc.oneof(
      hostileJson({ samples: S.agentConfigSamples, maxBytes: DEFAULT_MAX_YAML_BYTES }),
      yamlInputs,
    ),
    // The loader reads the file as 'utf8' text (invalid bytes become U+FFFD), so do the same.
    decode: (payload) =>
      outcomeOf(
        decodeYaml(AgentConfig, Buffer.from(payload).toString('utf8'), { where: 'agent.yaml' }),
      ),
    check: roundTrip(AgentConfig, DEFAULT_MAX_YAML_BYTES),
  };
}

/** Every protocol decoder that takes input from the network or a user's file. */
export function protocolTargets(): FuzzTarget[] {
  return [
    jsonTarget('report (NodeReport)', NodeReport, S.reportSamples, MAX_REPORT_BYTES),
    jsonTarget('scale command (ScaleCommand)', ScaleCommand, S.commandSamples, MAX_COMMAND_BYTES),
    jsonTarget('scale reply (ScaleReply)', ScaleReply, S.replySamples, DEFAULT_MAX_PAYLOAD_BYTES),
    jsonTarget('event (ClusterEvent)', ClusterEvent, S.eventSamples, DEFAULT_MAX_PAYLOAD_BYTES),
    jsonTarget(
      'api request over NATS (ApiRequest)',
      ApiRequest,
      S.apiRequestSamples,
      DEFAULT_MAX_PAYLOAD_BYTES,
    ),
    jsonTarget(
      'api reply over NATS (ApiReply)',
      ApiReply,
      S.apiReplySamples,
      DEFAULT_MAX_PAYLOAD_BYTES,
    ),
    jsonTarget(
      'api body PUT /v1/services (ServiceSpec)',
      ServiceSpec,
      S.serviceSpecSamples,
      DEFAULT_MAX_PAYLOAD_BYTES,
    ),
    jsonTarget(
      'api body scale (ServiceScaleBody)',
      ServiceScaleBody,
      S.scaleBodySamples,
      DEFAULT_MAX_PAYLOAD_BYTES,
    ),
    jsonTarget(
      'raft entry (ClusterCommand)',
      ClusterCommand,
      S.clusterCommandSamples,
      DEFAULT_MAX_PAYLOAD_BYTES,
    ),
    jsonTarget(
      'raft snapshot (ClusterStateSnapshot)',
      ClusterStateSnapshot,
      S.snapshotSamples,
      1024 * 1024,
    ),
    queryTarget('api query (ReadQuery)', ReadQuery),
    queryTarget('api query (ServiceQuery)', ServiceQuery),
    queryTarget('api query (CommandsQuery)', CommandsQuery),
    queryTarget('api query (EventsQuery)', EventsQuery),
    configTarget(),
  ];
}
