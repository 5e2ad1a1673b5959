import { CoxswainError } from '@coxswain/protocol';

/** A program the lab or the tests need (nats-server, dockerd, busybox) is not installed and cannot be installed here. */
export class ToolMissingError extends CoxswainError {
  readonly tools: readonly string[];
  readonly packages: readonly string[];
  constructor(tools: readonly string[], packages: readonly string[], why: string) {
    super(
      'COX_TOOL_MISSING',
      `missing ${tools.join(', ')} (${why}); install with: apt-get install -y ${packages.join(' ')}`,
    );
    this.tools = tools;
    this.packages = packages;
  }
}

/** A daemon (nats-server, dockerd) exited or never became ready; `logTail` holds the end of its log. */
export class DaemonStartError extends CoxswainError {
  readonly daemon: string;
  readonly logTail: string;
  constructor(daemon: string, reason: string, logTail: string, options?: { cause?: unknown }) {
    super(
      'COX_DAEMON_START_FAILED',
      `${daemon} did not start: ${reason}${logTail ? `\n--- last lines of its log ---\n${logTail}` : ''}`,
      options,
    );
    this.daemon = daemon;
    this.logTail = logTail;
  }
}

/** A system command (ip, umount, tar, apt-get) failed. */
export class CommandFailedError extends CoxswainError {
  readonly command: string;
  readonly exitCode: number | null;
  readonly stderr: string;
  constructor(command: string, exitCode: number | null, stderr: string) {
    super(
      'COX_COMMAND_FAILED',
      `\`${command}\` exited with ${exitCode ?? 'a signal'}${stderr ? `: ${stderr.trim()}` : ''}`,
    );
    this.command = command;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/** Network namespaces cannot be created here (not root, or no CAP_SYS_ADMIN / CAP_NET_ADMIN). */
export class NetnsUnavailableError extends CoxswainError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super('COX_NETNS_UNAVAILABLE', `network namespaces are not available: ${reason}`, options);
  }
}

/** Something waited for did not happen in time (a poll, a leader, a harness condition). */
export class WaitTimeoutError extends CoxswainError {
  constructor(message: string) {
    super('COX_WAIT_TIMEOUT', message);
  }
}

/** A daemon being started exited, or left no usable address, before it was ready. */
export class DaemonExitedError extends CoxswainError {
  constructor(message: string) {
    super('COX_DAEMON_EXITED', message);
  }
}

/** Processes of a stopped daemon are still alive after SIGKILL. */
export class ProcessSurvivedError extends CoxswainError {
  readonly pids: readonly number[];
  constructor(message: string, pids: readonly number[] = []) {
    super('COX_PROCESS_SURVIVED', message);
    this.pids = pids;
  }
}

/** A harness request to the cluster (apply, scale, state, status) was refused or had no one to ask. */
export class HarnessRequestError extends CoxswainError {
  constructor(message: string) {
    super('COX_HARNESS_REQUEST', message);
  }
}

/** A simulated host network asked for something impossible (bad name, taken host, no free subnet). */
export class HostNetworkError extends CoxswainError {
  constructor(message: string) {
    super('COX_HOST_NETWORK', message);
  }
}

/** A link relay could not listen, or was given a shape it cannot apply. */
export class RelayError extends CoxswainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('COX_RELAY', message, options);
  }
}
