/**
 * Who a process is, beyond its pid: a pid is reused once its process is gone, so leases and
 * export records name their owner by pid, the process's start time (/proc/<pid>/stat field
 * 22, clock ticks since boot) and the boot it ran in. Only a process matching all three is
 * the owner. Leases live on shared destinations, so they also name the host and the PID
 * namespace: a holder on another machine (or in another container) cannot be judged here.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

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

/** This process. */
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

// ---- lease holders ----------------------------------------------------------------------

/** A lease's holder as recorded in its file (older leases lack machine and startTicks). */
export interface LeaseHolder {
  host: string;
  /** boot id + PID namespace; null where /proc is not available. */
  machine: string | null;
  pid: number;
  /** Start time in clock ticks since boot; null where unknown. */
  startTicks: number | null;
}

export type Liveness = 'alive' | 'dead' | 'unknown';

function readMachine(): string | null {
  try {
    const boot = bootId();
    return boot === '' ? null : `${boot}/${readlinkSync('/proc/self/ns/pid')}`;
  } catch {
    return null;
  }
}

let self: LeaseHolder | undefined;

export function currentLeaseHolder(): LeaseHolder {
  if (!self) {
    const start = identifyProcess(process.pid)?.startTime;
    self = { host: hostname(), machine: readMachine(), pid: process.pid, startTicks: start === undefined ? null : Number(start) };
  }
  return self;
}

/**
 * Whether the process a lease names still runs. Only a holder on this very machine (same
 * host, boot and PID namespace) can be judged; anyone else is 'unknown' and ages out by renewal.
 */
export function holderLiveness(holder: { host?: unknown; machine?: unknown; pid?: unknown; startTicks?: unknown }): Liveness {
  const me = currentLeaseHolder();
  if (me.machine === null || holder.machine !== me.machine || holder.host !== me.host) return 'unknown';
  if (typeof holder.pid !== 'number' || !Number.isInteger(holder.pid) || holder.pid <= 0) return 'unknown';
  // kill(pid, 0) tells even where /proc hides other users' processes (hidepid).
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return 'dead';
  }
  const now = identifyProcess(holder.pid);
  // The pid runs again, but a different process started under it.
  if (now !== null && typeof holder.startTicks === 'number' && Number(now.startTime) !== holder.startTicks) return 'dead';
  return 'alive';
}
