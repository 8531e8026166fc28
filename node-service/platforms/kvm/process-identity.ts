/**
 * Who a process is, beyond its pid: a pid is reused once its process is gone, so an export
 * record names its owner by pid, the process's start time (/proc/<pid>/stat field 22, clock
 * ticks since boot) and the boot it ran in. Only a process matching all three is its owner.
 */
import { readFileSync } from 'node:fs';

export interface ProcessIdentity {
  pid: number;
  /** /proc/<pid>/stat field 22 (`starttime`), as text: it can exceed 2^53 in theory. */
  startTime: string;
  /** /proc/sys/kernel/random/boot_id: after a reboot no recorded process is alive. */
  bootId: string;
}

/** The identity of a live process, or null when there is no such process (or no /proc). */
export function identifyProcess(pid: number): ProcessIdentity | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null; // gone (ENOENT) or not ours to see; either way not a process we can name
  }
  const startTime = parseStartTime(stat);
  return startTime === null ? null : { pid, startTime, bootId: bootId() };
}

/** This process (the node). */
export function currentProcess(): ProcessIdentity {
  const me = identifyProcess(process.pid);
  if (!me) throw new Error(`cannot read /proc/${process.pid}/stat; the node needs Linux /proc`);
  return me;
}

/** Whether the recorded process still runs: same pid, same start time, same boot. */
export function isAlive(recorded: ProcessIdentity): boolean {
  const now = identifyProcess(recorded.pid);
  return now !== null && now.startTime === recorded.startTime && now.bootId === recorded.bootId;
}

/**
 * Field 22 of /proc/<pid>/stat. The second field (the command name, in parentheses) may
 * itself contain spaces and parentheses, so fields are counted after its last ')'.
 */
export function parseStartTime(stat: string): string | null {
  const close = stat.lastIndexOf(')');
  if (close < 0) return null;
  // After ") " come fields 3 (state), 4, …: field 22 is the 20th of them.
  const value = stat.slice(close + 2).split(' ')[19];
  return value !== undefined && /^\d+$/.test(value) ? value : null;
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return ''; // no boot id (old kernel, restricted /proc): pid + start time still decide
  }
}
