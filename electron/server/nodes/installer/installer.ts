/**
 * Installing, upgrading and removing node services — on this computer or on
 * a Linux host over SSH. The server runs these as tasks (NODE_INSTALL, …) so
 * the user sees progress and a live log.
 */

/** What the running install can tell the user. */
export interface InstallContext {
  log(level: 'info' | 'warn' | 'error', message: string): void;
  /** Fraction-style progress in bytes (e.g. the bundle upload); total may be null. */
  progress(done: number, total: number | null, message?: string): void;
  signal: AbortSignal;
}

/** Everything the node needs to enrol with this server. */
export interface EnrollmentInfo {
  /** One-time enrollment token, created for this install. */
  token: string;
  /** SHA-256 of the server certificate, which the node pins. */
  fingerprint: string;
  /** Server port; the address is decided per target (see serverAddress). */
  port: number;
}

export interface LocalTarget {
  kind: 'local';
  name: string;
}

export interface SshTarget {
  kind: 'ssh';
  name: string;
  host: string;
  port: number;
  user: string;
  auth: { password: string } | { privateKey: string; passphrase?: string };
  /** "SHA256:…" as ssh-keygen -lf prints it; the connection is refused before auth unless the host key matches. */
  hostKeyFingerprint: string;
  /** Address the node should use to reach this server; default: our local address of the SSH connection. */
  serverAddress?: string;
}

export type InstallTarget = LocalTarget | SshTarget;

export interface InstallOutcome {
  /** Host name the node runs on, as the installer saw it. */
  host: string;
  method: 'local-systemd' | 'local-supervised' | 'ssh-systemd' | 'ssh-supervised';
}

/** Why an install step failed, for the task's error and for callers that react to the kind. */
export type InstallerErrorCode =
  | 'CONNECT_FAILED'
  | 'HOST_KEY_MISMATCH'
  | 'AUTH_FAILED'
  | 'SUDO_PASSWORD_REQUIRED'
  | 'UNSUPPORTED_HOST'
  | 'NO_SPACE'
  | 'UPLOAD_FAILED'
  | 'ENROLL_FAILED'
  | 'SERVICE_FAILED'
  | 'NOT_INSTALLED'
  | 'BUNDLE_FAILED'
  | 'COMMAND_FAILED'
  | 'CANCELLED';

/**
 * An expected install failure: the message is one sentence the admin can act
 * on (it becomes the task's error), the code says what kind of failure it was.
 */
export class InstallerError extends Error {
  constructor(
    readonly code: InstallerErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'InstallerError';
  }
}

export function cancelledError(): InstallerError {
  return new InstallerError('CANCELLED', 'the operation was cancelled');
}

export interface NodeInstaller {
  /** Installs, enrols (the node calls POST /api/node/enroll) and starts the service. Resolves once started; the caller waits for it to come online. */
  install(target: InstallTarget, enrollment: EnrollmentInfo, ctx: InstallContext): Promise<InstallOutcome>;
  /** Replaces the program files with this server's version and restarts; config and credential stay. */
  upgrade(target: InstallTarget, ctx: InstallContext): Promise<void>;
  restart(target: InstallTarget, ctx: InstallContext): Promise<void>;
  /** Stops the service and removes its files, unit/supervisor and config. */
  uninstall(target: InstallTarget, ctx: InstallContext): Promise<void>;
  /** The last lines of the node service's log. */
  showLog(target: InstallTarget, lines: number): Promise<string[]>;
}
