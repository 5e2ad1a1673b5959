/**
 * The leader's side of commands: sends a scale command to one agent over
 * NATS and decodes its reply, announces commands and their outcomes on the
 * cluster's event subject, and feeds executors' replies to the policies'
 * lead-time measurement.
 */
import {
  CommandUndeliveredError,
  type ForecastPolicies,
  type LockedOutcome,
} from '@coxswain/control';
import {
  ClusterEvent,
  type ClusterEventType,
  decode,
  encode,
  PROTOCOL_VERSION,
  ScaleCommand,
  ScaleReply,
  type Subjects,
} from '@coxswain/protocol';
import type { Logger } from '@coxswain/telemetry';
import { requestTraced } from '@coxswain/telemetry';
import { ErrorCode, type NatsConnection, NatsError } from 'nats';

export interface CommandSenderOptions {
  readonly nodeId: string;
  readonly subjects: Subjects;
  /** The member's connection (throws before it is connected). */
  readonly nc: () => NatsConnection;
  readonly log: Logger;
  readonly forecast: ForecastPolicies;
  /** Signs a command for the node it goes to (this voter's key; see @coxswain/nats-link command-auth). */
  readonly sign?: (command: ScaleCommand, nodeId: string) => ScaleCommand;
  readonly onRejected?: (subject: string, reason: string) => void;
}

/** Command ids announced, kept for this many commands (retries reuse an id). */
const ISSUED_IDS_KEPT = 1000;

export class CommandSender {
  readonly #o: CommandSenderOptions;
  readonly #issuedIds = new Set<string>();

  constructor(options: CommandSenderOptions) {
    this.#o = options;
  }

  /** Publishes a cluster event; best-effort (a closed connection loses it). */
  event(type: ClusterEventType, message: string, data: Record<string, unknown>): void {
    try {
      this.#o.nc().publish(
        this.#o.subjects.events,
        encode(ClusterEvent, {
          v: PROTOCOL_VERSION,
          type,
          time: Date.now(),
          nodeId: this.#o.nodeId,
          message,
          data,
        }),
      );
    } catch {
      // A closed connection loses the event; events are best-effort by design.
    }
  }

  async send(nodeId: string, command: ScaleCommand, timeoutMs: number): Promise<ScaleReply> {
    // Retries reuse the command id; watchers hear about a command once.
    if (!this.#issuedIds.has(command.id)) {
      this.#issuedIds.add(command.id);
      if (this.#issuedIds.size > ISSUED_IDS_KEPT)
        this.#issuedIds.delete(this.#issuedIds.values().next().value!);
      this.event(
        'command.issued',
        `${command.service}: ${nodeId} to run ${command.replicas} (token ${command.token}, term ${command.term})`,
        {
          service: command.service,
          nodeId,
          id: command.id,
          replicas: command.replicas,
          token: command.token,
          term: command.term,
        },
      );
    }
    const subject = this.#o.subjects.cmd(nodeId);
    let reply: Awaited<ReturnType<typeof requestTraced>>;
    try {
      const signed = this.#o.sign?.(command, nodeId) ?? command;
      reply = await requestTraced(this.#o.nc(), subject, encode(ScaleCommand, signed), {
        timeout: timeoutMs,
      });
    } catch (error) {
      // The server had no subscriber for the subject, so nobody got it (see the lock protocol).
      if (error instanceof NatsError && error.code === ErrorCode.NoResponders)
        throw new CommandUndeliveredError(nodeId, { cause: error });
      throw error;
    }
    const decoded = decode(ScaleReply, reply.data, { where: `reply from ${nodeId}` });
    if (!decoded.ok) {
      this.#o.onRejected?.(`reply ${subject}`, decoded.error.code);
      throw decoded.error;
    }
    return decoded.value;
  }

  /** What the coordinator reports of each locked operation: logged, announced, measured. */
  onOutcome(service: string, outcome: LockedOutcome): void {
    const log = this.#o.log;
    switch (outcome.status) {
      case 'done':
        for (const r of outcome.replies) this.#o.forecast.observeReply(service, r);
        if (outcome.replies.length > 0 || outcome.failed > 0) {
          log.info('operation done', { service, token: outcome.token, failed: outcome.failed });
          this.event('command.done', `${service}: operation ${outcome.token} done`, {
            service,
            token: outcome.token,
            failed: outcome.failed,
          });
        }
        for (const r of outcome.replies) {
          if (!r.ok && r.code === 'COX_STALE_TOKEN') {
            this.event(
              'command.refused',
              `${service}: ${r.nodeId} refused token ${outcome.token}`,
              {
                service,
                nodeId: r.nodeId,
              },
            );
          }
        }
        return;
      case 'aborted':
        log.warn('operation aborted', { service, error: outcome.error });
        return;
      case 'refused':
        log.warn('operation refused by the state machine', {
          service,
          code: outcome.code,
          message: outcome.message,
        });
        return;
      default:
        return;
    }
  }
}
