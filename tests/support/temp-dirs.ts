import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const tempDirs: string[] = [];

/** A fresh directory under the system's temp dir, removed after the test file (tests/support/temp-dir-cleanup.ts). */
export function makeTempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `vplus-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}

/** Removes the temp dirs made so far, except one with a mount still under it (never delete through a mount). */
export function removeTempDirs(): void {
  let mounts: string[] = [];
  try {
    mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((line) => line.split(' ')[4] ?? '');
  } catch {
    return;
  }
  for (const dir of tempDirs.splice(0)) {
    if (mounts.some((m) => m === dir || m.startsWith(`${dir}/`))) continue;
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // Busy or already gone: the system's /tmp clean-up takes it.
    }
  }
}
