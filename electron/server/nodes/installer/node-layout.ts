/**
 * Where a node lives on a host and the small pieces of shell and systemd text
 * that run it. Shared by the SSH installer (fixed system paths) and the local
 * installer (paths under the server's data directory).
 */

/** File layout of a node installed over SSH. */
export const REMOTE = {
  installDir: '/opt/vplus-node',
  /** Where a new program version is unpacked before it replaces the old one. */
  newDir: '/opt/vplus-node.new',
  /** The previous version while the swap is in progress (restored if the swap fails). */
  oldDir: '/opt/vplus-node.old',
  configDir: '/etc/vplus-node',
  configFile: '/etc/vplus-node/node.json',
  stateDir: '/var/lib/vplus-node',
  stagingDir: '/var/lib/vplus-node/staging',
  logDir: '/var/log/vplus-node',
  logFile: '/var/log/vplus-node/node.log',
  unitName: 'vplus-node.service',
  unitFile: '/etc/systemd/system/vplus-node.service',
} as const;

/** Paths inside the node bundle (relative to its root). */
export const BUNDLE = {
  node: 'node',
  cli: 'bin/vplus.js',
  supervisor: 'bin/vplus-node-supervisor',
  manifest: 'BUNDLE.json',
} as const;

/** Quotes a word for POSIX sh. */
export function shq(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Quotes a word for a systemd unit's Exec line (and escapes its specifiers). */
export function systemdQuote(word: string): string {
  const escaped = word.replace(/%/g, '%%');
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export interface UnitOptions {
  description: string;
  execStart: string[];
  environment?: Record<string, string>;
  /** Install target: multi-user for a system unit, default for a user unit. */
  wantedBy: 'multi-user.target' | 'default.target';
}

/** A systemd service that keeps the node running and restarts it when it dies. */
export function systemdUnit(options: UnitOptions): string {
  const env = Object.entries(options.environment ?? {}).map(([k, v]) => `Environment=${systemdQuote(`${k}=${v}`)}`);
  return [
    '# Written by the vPlus server; reinstalling or upgrading the node rewrites it.',
    '[Unit]',
    `Description=${options.description}`,
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${options.execStart.map(systemdQuote).join(' ')}`,
    ...env,
    'Restart=always',
    'RestartSec=5',
    // SIGTERM to the node first; its children only if it does not stop in time.
    'KillMode=mixed',
    'TimeoutStopSec=30',
    '',
    '[Install]',
    `WantedBy=${options.wantedBy}`,
    '',
  ].join('\n');
}

/**
 * The supervisor for hosts without systemd (POSIX sh, so it needs nothing the
 * host may lack): runs the node, restarts it with backoff when it exits, stops
 * it on SIGTERM. Started detached with setsid + nohup, so it outlives the SSH
 * session that started it. Arguments: ROOT CONFIG STATE_DIR LOG_FILE.
 */
export const SUPERVISOR_SCRIPT = `#!/bin/sh
# vPlus node supervisor, for hosts without systemd. Written by the vPlus server.
# Usage: vplus-node-supervisor ROOT CONFIG STATE_DIR LOG_FILE
set -u
ROOT=$1
CONFIG=$2
STATE=$3
LOG=$4
PIDFILE="$STATE/supervisor.pid"
NODEPID="$STATE/node.pid"
MAX_LOG_BYTES=10485760

mkdir -p "$STATE" "$(dirname "$LOG")"
echo $$ >"$PIDFILE"

log() { echo "$(date -u '+%Y-%m-%dT%H:%M:%SZ') supervisor: $*" >>"$LOG"; }

child=
stopping=0
on_stop() {
  stopping=1
  if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null; fi
}
trap on_stop TERM INT
trap '' HUP

delay=1
while [ "$stopping" -eq 0 ]; do
  size=$(wc -c <"$LOG" 2>/dev/null || echo 0)
  if [ "$size" -gt "$MAX_LOG_BYTES" ]; then mv -f "$LOG" "$LOG.1"; fi
  log "starting the node service"
  started=$(date +%s)
  "$ROOT/node" "$ROOT/bin/vplus.js" node-service run --config "$CONFIG" </dev/null >>"$LOG" 2>&1 &
  child=$!
  echo "$child" >"$NODEPID"
  # A stop request that arrived before child was set.
  if [ "$stopping" -eq 1 ]; then kill -TERM "$child" 2>/dev/null; fi
  code=0
  while :; do
    wait "$child"
    code=$?
    # wait also returns when a signal arrives; only a dead child ends the loop.
    kill -0 "$child" 2>/dev/null || break
  done
  child=
  rm -f "$NODEPID"
  if [ "$stopping" -eq 1 ]; then break; fi
  ran=$(( $(date +%s) - started ))
  if [ "$ran" -ge 60 ]; then delay=1; fi
  log "the node service exited with code $code; restarting it in \${delay}s"
  sleep "$delay" &
  sleeper=$!
  wait "$sleeper"
  kill "$sleeper" 2>/dev/null
  if [ "$delay" -lt 30 ]; then delay=$((delay * 2)); fi
done
log "stopped"
rm -f "$PIDFILE" "$NODEPID"
`;

/** sh: is PID a live process whose command line contains PATTERN (not a recycled pid, not a zombie)? */
const IS_PROCESS_FN = `is_process() { [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] && tr '\\000' ' ' <"/proc/$1/cmdline" | grep -q -- "$2"; }`;

export interface SupervisorPaths {
  root: string;
  config: string;
  stateDir: string;
  logFile: string;
}

/** sh: starts the supervisor detached unless it already runs; prints "started" or "running". */
export function startSupervisorScript(p: SupervisorPaths): string {
  const pidFile = `${p.stateDir}/supervisor.pid`;
  const supervisor = `${p.root}/${BUNDLE.supervisor}`;
  return [
    'set -e',
    IS_PROCESS_FN,
    `mkdir -p ${shq(p.stateDir)} ${shq(logDirOf(p.logFile))}`,
    `if [ -f ${shq(pidFile)} ] && is_process "$(cat ${shq(pidFile)})" vplus-node-supervisor; then echo running; exit 0; fi`,
    `rm -f ${shq(pidFile)}`,
    // Every descriptor redirected, so the SSH channel closes while the supervisor runs on.
    `setsid nohup ${shq(supervisor)} ${[p.root, p.config, p.stateDir, p.logFile].map(shq).join(' ')} </dev/null >>${shq(p.logFile)} 2>&1 &`,
    // Wait until it has written its pid file, so a failure shows here.
    'i=0',
    `while [ $i -lt 50 ]; do if [ -f ${shq(pidFile)} ] && is_process "$(cat ${shq(pidFile)})" vplus-node-supervisor; then echo started; exit 0; fi; sleep 0.1; i=$((i + 1)); done`,
    'echo "the supervisor did not start" >&2',
    'exit 1',
  ].join('\n');
}

/** sh: stops the supervisor and its node (SIGTERM, then SIGKILL after graceSeconds); prints "stopped", "forced" or "not-running". */
export function stopSupervisorScript(p: Pick<SupervisorPaths, 'stateDir'>, graceSeconds = 15): string {
  const pidFile = `${p.stateDir}/supervisor.pid`;
  const nodePidFile = `${p.stateDir}/node.pid`;
  return [
    IS_PROCESS_FN,
    `pid=$(cat ${shq(pidFile)} 2>/dev/null || true)`,
    `node=$(cat ${shq(nodePidFile)} 2>/dev/null || true)`,
    'result=not-running',
    'if is_process "$pid" vplus-node-supervisor; then',
    '  kill -TERM "$pid" 2>/dev/null || true',
    '  i=0',
    `  while is_process "$pid" vplus-node-supervisor && [ $i -lt ${graceSeconds * 10} ]; do sleep 0.1; i=$((i + 1)); done`,
    '  result=stopped',
    '  if is_process "$pid" vplus-node-supervisor; then kill -KILL "$pid" 2>/dev/null || true; result=forced; fi',
    'fi',
    // A node left behind (supervisor killed hard, or a stop during its restart backoff).
    'if is_process "$node" node-service; then kill -KILL "$node" 2>/dev/null || true; [ "$result" = not-running ] && result=forced; fi',
    // SIGKILL is not instant: report only once both are gone.
    'i=0',
    'while { is_process "$pid" vplus-node-supervisor || is_process "$node" node-service; } && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done',
    `rm -f ${shq(pidFile)} ${shq(nodePidFile)}`,
    'echo "$result"',
  ].join('\n');
}

function logDirOf(file: string): string {
  const i = file.lastIndexOf('/');
  return i > 0 ? file.slice(0, i) : '/';
}

/** "https://ADDR:PORT", with IPv6 addresses in brackets and IPv4-mapped ones unwrapped. */
export function serverUrl(address: string, port: number): string {
  const plain = address.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
  const host = plain.includes(':') && !plain.startsWith('[') ? `[${plain}]` : plain;
  return `https://${host}:${port}`;
}
