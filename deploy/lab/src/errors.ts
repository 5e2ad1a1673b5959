import { CoxswainError } from '@coxswain/protocol';

/** The lab's options are out of range (hosts, voters, the agent command). */
export class LabConfigError extends CoxswainError {
  constructor(message: string) {
    super('COX_LAB_CONFIG', message);
  }
}

/** No lab host of that name. */
export class NoSuchLabHostError extends CoxswainError {
  readonly host: string;
  constructor(host: string, message: string) {
    super('COX_NO_SUCH_LAB_HOST', message);
    this.host = host;
  }
}

/** A host cannot do that in its state (the lab stopping, a killed host, no agent binary, loopback only). */
export class LabStateError extends CoxswainError {
  constructor(message: string) {
    super('COX_LAB_STATE', message);
  }
}

/** A wait of the lab was aborted by its signal. */
export class LabAbortedError extends CoxswainError {
  constructor() {
    super('COX_LAB_ABORTED', 'aborted');
  }
}

/** A scenario step did not reach its goal. */
export class ScenarioStepError extends CoxswainError {
  constructor(message: string) {
    super('COX_LAB_SCENARIO', message);
  }
}
