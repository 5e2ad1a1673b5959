import { CoxswainError } from '@coxswain/protocol';

/** A policy name no runner exists for. */
export class UnknownPolicyError extends CoxswainError {
  readonly policy: string;
  constructor(policy: string) {
    super('COX_UNKNOWN_POLICY', `unknown policy ${JSON.stringify(policy)}`);
    this.policy = policy;
  }
}

/** The service of a locked operation disappeared from the replicated state while locked. */
export class ServiceVanishedError extends CoxswainError {
  readonly service: string;
  constructor(service: string) {
    super('COX_SERVICE_VANISHED', `service ${service} vanished under its lock`);
    this.service = service;
  }
}

/**
 * The transport knows that no agent received a command (NATS answered "no
 * responders": nobody was subscribed when it was published), so it cannot run
 * later. The lock protocol may then stop waiting for it once its node is dead.
 */
export class CommandUndeliveredError extends CoxswainError {
  readonly nodeId: string;
  constructor(nodeId: string, options?: { cause?: unknown }) {
    super(
      'COX_COMMAND_UNDELIVERED',
      `no agent is subscribed for ${nodeId}: the command was not delivered`,
      options,
    );
    this.nodeId = nodeId;
  }
}
