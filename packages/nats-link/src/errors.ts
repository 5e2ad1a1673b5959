import { CoxswainError } from '@coxswain/protocol';

/** A TLS file or credential named in `nats` cannot be used; names the field and the file, never the secret. */
export class NatsCredentialsError extends CoxswainError {
  readonly field: string;
  readonly file: string;
  constructor(field: string, file: string, message: string, options?: { cause?: unknown }) {
    super('COX_NATS_CREDENTIALS', message, options);
    this.field = field;
    this.file = file;
  }
}
