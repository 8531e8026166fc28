import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { promisify } from 'node:util';
import type { NodeCapabilities } from '../../common/api/nodes.js';

const run = promisify(execFile);

async function versionOf(cmd: string, args: string[], pattern: RegExp): Promise<string | null> {
  try {
    const { stdout, stderr } = await run(cmd, args, { timeout: 5000 });
    return pattern.exec(`${stdout}${stderr}`)?.[1] ?? null;
  } catch {
    return null;
  }
}

async function osName(): Promise<string> {
  try {
    const text = await fs.promises.readFile('/etc/os-release', 'utf8');
    return /^PRETTY_NAME="?([^"\n]+)"?/m.exec(text)?.[1] ?? os.type();
  } catch {
    return os.type();
  }
}

/** What this node offers; sent in hello and refreshed with heartbeats. */
export async function collectCapabilities(stagingDir: string, taskTypes: string[], maxConcurrentTasks: number): Promise<NodeCapabilities> {
  await fs.promises.mkdir(stagingDir, { recursive: true, mode: 0o700 });
  const st = await fs.promises.statfs(stagingDir);
  const [libvirt, qemuImg, osPretty] = await Promise.all([
    versionOf('virsh', ['--version'], /^(\d+\.\d+\.\d+)/m),
    versionOf('qemu-img', ['--version'], /version (\d+\.\d+\.\d+)/),
    osName(),
  ]);
  return {
    os: osPretty,
    arch: os.arch(),
    kernel: os.release(),
    nodeVersion: process.versions.node,
    hostname: os.hostname(),
    libvirt: { available: libvirt !== null, version: libvirt },
    qemuImg: { available: qemuImg !== null, version: qemuImg },
    staging: { path: stagingDir, freeBytes: st.bavail * st.bsize, totalBytes: st.blocks * st.bsize },
    taskTypes,
    maxConcurrentTasks,
  };
}
