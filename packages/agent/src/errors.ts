import { CoxswainError } from '@coxswain/protocol';

/** The agent's configuration could not be loaded; the message names the file and the field. */
export class AgentConfigError extends CoxswainError {
  readonly source: string;
  constructor(source: string, message: string, options?: { cause?: unknown }) {
    super('COX_BAD_CONFIG', message, options);
    this.source = source;
  }
}
