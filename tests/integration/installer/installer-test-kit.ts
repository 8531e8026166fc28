import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { InstallContext } from '../../../electron/server/nodes/installer/installer.js';
import { REMOTE } from '../../../electron/server/nodes/installer/node-layout.js';
import type { ApiClient } from '../../support/api-client.js';
import { waitFor } from '../../support/test-server.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** An InstallContext that records what an installer tells the user. */
export interface RecordingContext extends InstallContext {
  lines: { level: string; message: string }[];
  progressCalls: { done: number; total: number | null }[];
  text(): string;
}

export function recordingContext(signal: AbortSignal = new AbortController().signal, onProgress?: (done: number, total: number | null) => void): RecordingContext {
  const lines: RecordingContext['lines'] = [];
  const progressCalls: RecordingContext['progressCalls'] = [];
  return {
    signal,
    lines,
    progressCalls,
    log(level, message) {
      lines.push({ level, message });
      if (process.env.VPLUS_TEST_LOG && process.env.VPLUS_TEST_LOG !== 'silent') console.log(`[install ${level}] ${message}`);
    },
    progress(done, total) {
      progressCalls.push({ done, total });
      onProgress?.(done, total);
    },
    text: () => lines.map((l) => `${l.level}: ${l.message}`).join('\n'),
  };
}

/** Everything an SSH install puts on a host. The namespace host shares this machine's filesystem. */
export const REMOTE_PATHS = [REMOTE.installDir, REMOTE.newDir, REMOTE.oldDir, REMOTE.configDir, REMOTE.stateDir, REMOTE.logDir];

/**
 * The SSH tests install into this machine's /opt/vplus-node (through the
 * namespace host). Refuse to run over a node that is really installed here.
 */
export function assertNoRealNodeHere(): void {
  const present = REMOTE_PATHS.filter((p) => fs.existsSync(p));
  if (present.length) {
    throw new Error(
      `${present.join(', ')} exist on this machine; the SSH installer tests install there (the test host shares this filesystem). Remove them (uninstall that node) and run again.`,
    );
  }
}

export function removeRemotePaths(): void {
  for (const p of REMOTE_PATHS) fs.rmSync(p, { recursive: true, force: true });
}

/** Marks the node paths as used by this test run, so a later run knows what a crashed one left behind. */
const CLAIM_FILE = path.join(os.tmpdir(), 'vplus-ssh-installer-tests.pid');

/**
 * Takes the node paths for this test run: what a crashed earlier run left is
 * removed; a node that no test run put there makes the suite fail (see
 * assertNoRealNodeHere).
 */
export function claimRemotePaths(): void {
  const owner = fs.existsSync(CLAIM_FILE) ? Number(fs.readFileSync(CLAIM_FILE, 'utf8').trim()) : null;
  if (owner !== null && owner !== process.pid) {
    if (isAlive(owner)) throw new Error(`another test run (pid ${owner}) is using ${REMOTE.installDir}; run the SSH installer tests one at a time`);
    removeRemotePaths();
  }
  assertNoRealNodeHere();
  fs.writeFileSync(CLAIM_FILE, `${process.pid}\n`);
}

export function releaseRemotePaths(): void {
  removeRemotePaths();
  fs.rmSync(CLAIM_FILE, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The built program the node bundle packs; CI builds it first (npm test runs npm run build). */
export function requireBuiltProgram(): void {
  const main = path.join(REPO_ROOT, 'dist/cli/main.js');
  if (!fs.existsSync(main)) throw new Error(`${main} is missing; run npm run build first`);
}

export interface ListedNode {
  id: number;
  name: string;
  status: string;
  host: string;
  version: string | null;
  installMethod: string;
}

export async function listNodes(api: ApiClient, token: string): Promise<ListedNode[]> {
  const res = await api.request<ListedNode[]>('GET', '/api/nodes', undefined, { token });
  if (res.status !== 200) throw new Error(`GET /api/nodes: ${res.status} ${res.text}`);
  return res.body;
}

export function waitForNodeStatus(api: ApiClient, token: string, name: string, status: string, timeoutMs = 60_000): Promise<ListedNode> {
  return waitFor(
    `node "${name}" to be ${status}`,
    async () => (await listNodes(api, token)).find((n) => n.name === name && n.status === status),
    timeoutMs,
  );
}

export async function createEnrollmentToken(api: ApiClient, adminToken: string): Promise<{ token: string; fingerprint: string }> {
  const res = await api.request<{ token: string; fingerprint: string }>('POST', '/api/nodes/tokens', {}, { token: adminToken });
  if (res.status !== 201) throw new Error(`creating an enrollment token failed: ${res.status} ${res.text}`);
  return res.body;
}

/** Live processes whose command line contains every given fragment. */
export function processesMatching(...fragments: string[]): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmd && fragments.every((f) => cmd.includes(f))) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

export function tarList(file: string): string[] {
  return execFileSync('tar', ['tzf', file], { maxBuffer: 64 * 1024 * 1024 }).toString().split('\n').filter(Boolean);
}
