import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { boundedFs, prepareRestoreTarget } from '../../../node-service/platforms/kvm/restore-target.js';

describe('prepareRestoreTarget', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vplus-restore-target-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('makes the missing directories with the mode asked and returns them, outermost first', async () => {
    const target = path.join(dir, 'a', 'b');
    const { created } = await prepareRestoreTarget({ directory: target, dirMode: 0o711, neededBytes: 1024 });
    expect(created).toEqual([path.join(dir, 'a'), target]);
    expect(fs.statSync(target).mode & 0o777).toBe(0o711);
    expect(fs.readdirSync(target)).toEqual([]); // the write test leaves nothing
  });

  it('refuses a target with too little free space and removes the directories it made', async () => {
    const target = path.join(dir, 'big', 'vm');
    await expect(prepareRestoreTarget({ directory: target, dirMode: 0o700, neededBytes: Number.MAX_SAFE_INTEGER })).rejects.toThrow(
      new RegExp(`^restore target ${target} has .* free, but the restored disks need up to`),
    );
    expect(fs.existsSync(path.join(dir, 'big'))).toBe(false);
  });

  it('names the file a target is inside of', async () => {
    fs.writeFileSync(path.join(dir, 'f'), 'x');
    const target = path.join(dir, 'f', 'x', 'y');
    await expect(prepareRestoreTarget({ directory: target, dirMode: 0o700, neededBytes: 0 })).rejects.toThrow(`restore target ${target} is inside a file: ${path.join(dir, 'f')} is not a directory`);
  });

  it('refuses /proc at once instead of spinning in mkdir', async () => {
    await expect(prepareRestoreTarget({ directory: '/proc/vplus-nowhere/x', dirMode: 0o700, neededBytes: 0 })).rejects.toThrow(/cannot be made: \/proc does not allow new directories/);
    await expect(prepareRestoreTarget({ directory: '/proc/self', dirMode: 0o700, neededBytes: 0 })).rejects.toThrow(/is on a kernel filesystem \(proc\)/);
  });
});

describe('boundedFs', () => {
  const never = (): Promise<never> => new Promise<never>(() => undefined);

  it('gives up on a call that does not answer, naming the target', async () => {
    await expect(boundedFs('statfs', '/mnt/hung', never, undefined, 50)).rejects.toThrow('restore target /mnt/hung did not answer within 50 ms (statfs)');
  });

  it('is cancelled by the signal', async () => {
    const ac = new AbortController();
    const p = boundedFs('stat', '/mnt/hung', never, ac.signal, 60_000);
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'KVM_CANCELLED' });
  });
});
