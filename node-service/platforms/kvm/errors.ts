/**
 * Typed errors of the KVM platform. Each carries a stable `code` for tasks and the API and a
 * message an admin can act on (what failed, and libvirt's or QEMU's own words for why).
 */

export type KvmErrorCode =
  | 'KVM_COMMAND_FAILED'
  | 'KVM_COMMAND_TIMEOUT'
  | 'KVM_DOMAIN_NOT_FOUND'
  | 'KVM_DOMAIN_STATE'
  | 'KVM_NO_DISKS'
  | 'KVM_BACKUP_JOB'
  | 'KVM_NBD'
  | 'KVM_RESTORE_TARGET'
  | 'KVM_SNAPSHOT'
  | 'KVM_SNAPSHOT_NOT_FOUND'
  | 'KVM_CANCELLED';

export class KvmError extends Error {
  constructor(
    readonly code: KvmErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
  }
}

/** A child process exited non-zero; `stderr` is kept whole for logs, the message has its gist. */
export class CommandError extends KvmError {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
    timedOut = false,
  ) {
    super(timedOut ? 'KVM_COMMAND_TIMEOUT' : 'KVM_COMMAND_FAILED', describeFailure(command, exitCode, stderr, timedOut));
  }
}

/** "virsh start vm1 failed: Requested operation is not valid: domain is already running." */
function describeFailure(command: string, exitCode: number | null, stderr: string, timedOut: boolean): string {
  if (timedOut) return `${command} did not finish in time and was stopped`;
  const gist = oneSentence(stderr);
  return `${command} failed${gist ? `: ${gist}` : ` with exit code ${exitCode ?? 'null'}`}`;
}

/** virsh prints "error: Failed to x\nerror: reason"; join the lines, drop the "error:" prefixes. */
export function oneSentence(stderr: string): string {
  const parts = stderr
    .split('\n')
    .map((l) => l.trim().replace(/^error:\s*/i, ''))
    .filter((l) => l.length > 0);
  const text = parts.join('; ').replace(/\s+/g, ' ').trim();
  if (!text) return '';
  return /[.!?]$/.test(text) ? text : `${text}.`;
}
