import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';

/**
 * A child's lifeline: what makes a child the server started (mariadbd, a
 * supervised node) stop when the server is gone, even after a SIGKILL.
 *
 * mariadbd cannot watch a pipe, and a node should not need to, so each child
 * gets a tiny `sh` watchdog instead, in a session (and process group) of its
 * own like the child, so a signal to the server's group reaches neither. The
 * watchdog blocks reading its stdin, a socket whose other end only the server
 * holds (libuv opens it close-on-exec, so no other child inherits it). The
 * kernel closes that end when the server process ends, however it ends; the
 * watchdog then reads EOF and stops the child the way the server would have:
 * SIGTERM (a clean shutdown), SIGKILL to the child's group after the grace
 * time. It checks the pid still runs the child's command line (the data dir
 * or config file in it) before signalling, so a recycled pid is never hit.
 *
 * While the server runs, the watchdog does nothing; when the child exits on
 * its own or is stopped by the server, the server retires the watchdog.
 */
const WATCHDOG = `
pid=$1 mark=$2 grace=$3 repeat=$4
while read -r _; do :; done
alive() { [ -r "/proc/$pid/cmdline" ] && tr '\\0' '\\n' < "/proc/$pid/cmdline" | grep -qxF -- "$mark"; }
alive || exit 0
echo "vplus-lifeline: the server is gone; stopping $pid" >&2
kill -TERM "$pid" 2>/dev/null
ticks=$((grace * 5))
while alive; do
  if [ "$ticks" -le 0 ]; then kill -KILL "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null; exit 0; fi
  ticks=$((ticks - 1))
  if [ "$repeat" = 1 ] && [ $((ticks % 5)) -eq 0 ]; then kill -TERM "$pid" 2>/dev/null; fi
  sleep 0.2
done
`;

/** The name watchdog processes show in ps (their $0). */
export const LIFELINE_PROCESS_NAME = 'vplus-lifeline';

export interface LifelineOptions {
  /** The child to stop when the server is gone. */
  pid: number;
  /** One argument of the child's command line, exactly (its data dir or config file): how the watchdog recognises it. */
  mark: string;
  /** SIGTERM, then SIGKILL after this long. Whole seconds, at least 1. */
  graceSeconds: number;
  /** SIGTERM again every second until the child is gone (mariadbd loses one sent early in its start; a node must not get two). */
  repeatTerm?: boolean;
  logger: Logger;
  /** The shell; /bin/sh by default. */
  shell?: string;
}

export interface Lifeline {
  readonly watchdogPid: number | undefined;
  /** The child ended or was stopped by the server: the watchdog is no longer needed. */
  retire(): void;
}

/** Starts the watchdog for a child the server has just spawned. */
export function startLifeline(o: LifelineOptions): Lifeline {
  const grace = Math.max(1, Math.ceil(o.graceSeconds));
  const watchdog: ChildProcess = spawn(o.shell ?? '/bin/sh', ['-c', WATCHDOG, LIFELINE_PROCESS_NAME, String(o.pid), o.mark, String(grace), o.repeatTerm ? '1' : '0'], {
    // stdin: the lifeline. stderr: where the watchdog says why it acts, which only matters when nobody reads it.
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  watchdog.once('error', (err) => o.logger.error({ err, pid: o.pid }, 'could not start the lifeline watchdog of a child process'));
  // Writing is never needed; an error on our end (EPIPE after the watchdog died) is not worth a crash.
  watchdog.stdin?.on('error', () => undefined);
  // Neither the watchdog nor its pipe may keep a finished server process alive.
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  let retired = false;
  return {
    watchdogPid: watchdog.pid,
    retire() {
      if (retired) return;
      retired = true;
      // SIGKILL, not EOF: on EOF it would stop whatever then runs with the child's pid and mark.
      if (watchdog.exitCode === null && watchdog.signalCode === null) watchdog.kill('SIGKILL');
      watchdog.stdin?.destroy();
    },
  };
}
