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
