/**
 * Who holds a lease, precisely enough to tell at once that a holder on this machine is
 * gone: the host name, the kernel's boot id and PID namespace (so a container or a reboot
 * with the same host name is not mistaken for this one), the pid, and the process's start
 * time in clock ticks since boot (so a recycled pid is not mistaken for the holder).
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

export interface ProcessIdentity {
  host: string;
  /** boot id + pid namespace; null where /proc is not available (another OS). */
  machine: string | null;
  pid: number;
  /** /proc/<pid>/stat field 22; null where unknown. */
  startTicks: number | null;
}

export type Liveness = 'alive' | 'dead' | 'unknown';

function readMachine(): string | null {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const pidNs = readlinkSync('/proc/self/ns/pid');
    return `${boot}/${pidNs}`;
  } catch {
    return null;
  }
}

/** Start time of a process in clock ticks since boot, or null if it does not exist (or /proc is unreadable). */
export function processStartTicks(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const start = Number(fields[19]);
  return Number.isSafeInteger(start) ? start : null;
}

let self: ProcessIdentity | undefined;

export function currentProcessIdentity(): ProcessIdentity {
  self ??= { host: hostname(), machine: readMachine(), pid: process.pid, startTicks: processStartTicks(process.pid) };
  return self;
}

/**
 * Whether the process a lease names still runs. Only a holder on this very machine (same
 * boot, same PID namespace) can be judged; anyone else is 'unknown' and ages out by renewal.
 */
export function holderLiveness(holder: { host?: unknown; machine?: unknown; pid?: unknown; startTicks?: unknown }): Liveness {
  const me = currentProcessIdentity();
  if (me.machine === null || holder.machine !== me.machine || holder.host !== me.host) return 'unknown';
  if (typeof holder.pid !== 'number' || !Number.isInteger(holder.pid) || holder.pid <= 0) return 'unknown';
  // kill(pid, 0) tells even where /proc hides other users' processes (hidepid).
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return 'dead';
  }
  const start = processStartTicks(holder.pid);
  // The pid runs again, but a different process started under it.
  if (start !== null && typeof holder.startTicks === 'number' && holder.startTicks !== start) return 'dead';
  return 'alive';
}
