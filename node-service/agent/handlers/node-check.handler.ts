import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { TaskError, type TaskHandler, type TaskRunContext } from '../task-handler.js';

const BLOCK = 4 * 1024 * 1024;

/**
 * NODE_CHECK: is this node fit to stage data? Measures free staging space and
 * sequential write speed (written, fsynced, removed).
 */
export const nodeCheckHandler: TaskHandler = {
  type: 'NODE_CHECK',
  async run(ctx: TaskRunContext) {
    const sample = Math.max(BLOCK, Number(ctx.params.sampleBytes ?? 256 * 1024 * 1024));
    await fs.promises.mkdir(ctx.stagingDir, { recursive: true, mode: 0o700 });
    const before = await fs.promises.statfs(ctx.stagingDir);
    const free = before.bavail * before.bsize;
    ctx.log('info', `staging ${ctx.stagingDir}: ${gib(free)} GiB free of ${gib(before.blocks * before.bsize)} GiB`);
    if (free < sample * 2) throw new TaskError(`staging ${ctx.stagingDir} has only ${gib(free)} GiB free; free space or choose another staging path`);

    const file = path.join(ctx.stagingDir, `.node-check-${ctx.taskId}-${process.pid}`);
    const block = randomBytes(BLOCK); // incompressible, so thin or compressing filesystems cannot cheat
    const fh = await fs.promises.open(file, 'w', 0o600);
    const started = process.hrtime.bigint();
    let written = 0;
    try {
      while (written < sample) {
        if (ctx.signal.aborted) throw ctx.signal.reason as Error;
        const n = Math.min(BLOCK, sample - written);
        await fh.write(block, 0, n);
        written += n;
        ctx.progress(written, sample, 'measuring staging write speed');
      }
      await fh.sync();
    } finally {
      await fh.close();
      await fs.promises.rm(file, { force: true });
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const rate = written / seconds;
    ctx.log('info', `wrote ${Math.round(written / 1048576)} MiB in ${seconds.toFixed(2)} s: ${(rate / 1048576).toFixed(1)} MiB/s`);
    const warnings = rate < 20 * 1048576 ? [`staging writes only ${(rate / 1048576).toFixed(1)} MiB/s; backups through this node will be slow`] : [];
    return { warnings, result: { stagingPath: ctx.stagingDir, freeBytes: free, totalBytes: before.blocks * before.bsize, writeBytesPerSecond: Math.round(rate), sampleBytes: written } };
  },
};

function gib(bytes: number): string {
  return (bytes / 1024 ** 3).toFixed(1);
}
