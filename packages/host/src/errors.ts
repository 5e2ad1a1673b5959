import { CoxswainError } from '@coxswain/protocol';

/** A replica did not become healthy (or running, without a health check) in time. */
export class HealthTimeoutError extends CoxswainError {
  readonly containerId: string;
  readonly timeoutMs: number;
  readonly lastHealth: string;
  constructor(containerId: string, timeoutMs: number, lastHealth: string) {
    super(
      'COX_HEALTH_TIMEOUT',
      `container ${containerId.slice(0, 12)} not healthy after ${timeoutMs} ms (last: ${lastHealth})`,
    );
    this.containerId = containerId;
    this.timeoutMs = timeoutMs;
    this.lastHealth = lastHealth;
  }
}

/** A replica exited while we were waiting for it to become healthy. */
export class ReplicaExitedError extends CoxswainError {
  readonly containerId: string;
  readonly exitCode: number | undefined;
  constructor(containerId: string, exitCode: number | undefined) {
    super(
      'COX_REPLICA_EXITED',
      `container ${containerId.slice(0, 12)} exited (code ${exitCode ?? 'unknown'}) before it was healthy`,
    );
    this.containerId = containerId;
    this.exitCode = exitCode;
  }
}

/** A Docker Engine call failed; `operation` and `statusCode` say which and how. */
export class DockerOperationError extends CoxswainError {
  readonly operation: string;
  readonly containerId: string | undefined;
  readonly statusCode: number | undefined;
  constructor(operation: string, containerId: string | undefined, cause: unknown) {
    const statusCode = (cause as { statusCode?: number } | null)?.statusCode;
    const detail = cause instanceof Error ? cause.message : String(cause);
    super(
      'COX_DOCKER_ERROR',
      `docker ${operation}${containerId ? ` ${containerId.slice(0, 12)}` : ''} failed: ${detail}`,
      { cause },
    );
    this.operation = operation;
    this.containerId = containerId;
    this.statusCode = statusCode;
  }
}
