import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { CliError } from '../../../cli/errors.js';
import { downloadTarget, saveDownload } from '../../../cli/mount-download.js';
import { formatTaskResult } from '../../../cli/task-results.js';
import { removeTempDirs, sampleTask, tempDir } from './helpers.js';
import { sampleMount } from './mount-samples.js';

afterAll(removeTempDirs);

/** A context whose Ctrl-C the test sends, with stderr recorded. */
function fakeCtx(): { ctx: Parameters<typeof saveDownload>[0]; stderr: () => string; interrupt: () => void } {
  let stderr = '';
  const handlers: (() => void)[] = [];
  return {
    ctx: {
      stderr: { write: (s: string) => (stderr += s) },
      onShutdownSignal: (h) => {
        handlers.push(() => h('SIGINT'));
        return () => void handlers.splice(0);
      },
    },
    stderr: () => stderr,
    interrupt: () => handlers.forEach((h) => h()),
  };
}

describe('saving a download', () => {
  it('streams to a hidden temporary file that takes the name once complete, with progress lines', async () => {
    const dir = tempDir('save');
    const body = new PassThrough();
    const { ctx, stderr } = fakeCtx();
    let clock = 0;
    const saving = saveDownload(ctx, { body, size: 3 * 1024 * 1024, contentType: null }, downloadTarget(dir, undefined, 'disk.img', false), { label: 'disk.img', size: null, tty: false, now: () => clock });
    for (let i = 0; i < 3; i++) {
      clock += 6_000;
      body.write(Buffer.alloc(1024 * 1024, i));
      await new Promise((r) => setImmediate(r));
      if (i < 2) expect(fs.readdirSync(dir).filter((f) => !f.startsWith('.'))).toEqual([]);
    }
    body.end();
    expect(await saving).toBe(3 * 1024 * 1024);
    expect(fs.readdirSync(dir)).toEqual(['disk.img']);
    expect(fs.statSync(path.join(dir, 'disk.img')).size).toBe(3 * 1024 * 1024);
    expect(stderr()).toMatch(/^disk\.img: 33%, 1\.00 MiB of 3\.00 MiB, /m);
    expect(stderr()).toMatch(/^disk\.img: 100%, 3\.00 MiB of 3\.00 MiB, .*ETA 0s$/m);
  });

  it('Ctrl-C stops it and leaves nothing behind', async () => {
    const dir = tempDir('save');
    const body = new PassThrough();
    const { ctx, interrupt } = fakeCtx();
    const saving = saveDownload(ctx, { body, size: null, contentType: null }, downloadTarget(dir, undefined, 'etc.zip', false), { label: 'etc.zip', size: null, tty: false });
    body.write(Buffer.alloc(2048));
    await new Promise((r) => setImmediate(r));
    interrupt();
    await expect(saving).rejects.toThrow(new CliError(`stopped the download after 2.00 KiB; ${path.join(dir, 'etc.zip')} was not written`));
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('a stream that breaks writes nothing and says so', async () => {
    const dir = tempDir('save');
    const body = new PassThrough();
    const { ctx } = fakeCtx();
    const saving = saveDownload(ctx, { body, size: null, contentType: null }, downloadTarget(dir, undefined, 'x.bin', false), { label: 'x.bin', size: null, tty: false });
    body.write(Buffer.alloc(10));
    await new Promise((r) => setImmediate(r));
    body.destroy(new Error('socket hang up'));
    await expect(saving).rejects.toThrow(`the download broke off after 10 B (socket hang up); ${path.join(dir, 'x.bin')} was not written, try again`);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('a file that appeared meanwhile is not replaced without --force', async () => {
    const dir = tempDir('save');
    const target = downloadTarget(dir, undefined, 'hosts', false);
    fs.writeFileSync(target.file, 'mine');
    const body = new PassThrough();
    const saving = saveDownload(fakeCtx().ctx, { body, size: null, contentType: null }, target, { label: 'hosts', size: null, tty: false });
    body.end('theirs');
    await expect(saving).rejects.toThrow('appeared while downloading; give --force to replace it');
    expect(fs.readFileSync(target.file, 'utf8')).toBe('mine');
    expect(fs.readdirSync(dir)).toEqual(['hosts']);
  });
});

describe('mount task results', () => {
  it('FILE_RESTORE: entries, bytes and where; special files left out', () => {
    const task = sampleTask({ type: 'FILE_RESTORE', state: 'FINISHED', result: { directory: '/srv/r', entries: 1, bytes: 2048, skipped: [] } });
    expect(formatTaskResult(task)).toBe('Restored 1 entry (2.00 KiB) to /srv/r on node n1.');
  });

  it('MOUNT: who closed it and what it served', () => {
    const task = sampleTask({ type: 'MOUNT', state: 'FINISHED', result: { closedBy: 'idle', filesystems: sampleMount().filesystems } });
    expect(formatTaskResult(task)).toBe('The mount was closed after its idle timeout; it served 1 browsable filesystem of 2 found.');
  });
});
