import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../support/net.js';
import { IscsiError, TgtdInstance } from '../../../node-service/mount/iscsi-target.js';
import { makeTempDir } from '../../support/test-server.js';

const exec = promisify(execFile);
const ALLOWED = 'iqn.2026-12.lan.office:backup-reader';
const OTHER = 'iqn.2026-12.lan.office:someone-else';


/** Reads LUN 1 with QEMU's user-space iSCSI initiator (libiscsi); no kernel initiator needed. */
async function readLun(portal: string, target: string, opts: { initiator: string; user?: string; password?: string }, out: string): Promise<void> {
  const parts = [`driver=iscsi`, `transport=tcp`, `portal=${portal}`, `target=${target}`, `lun=1`, `initiator-name=${opts.initiator}`];
  if (opts.user) parts.push(`user=${opts.user}`, `password=${opts.password ?? ''}`);
  await exec('qemu-img', ['convert', '-O', 'raw', '--image-opts', parts.join(','), out], { timeout: 60_000 });
}

const sha = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** A real tgtd on loopback, read back by a user-space initiator: read-only, named initiators, CHAP. */
describe('iSCSI export of a disk', () => {
  const dir = makeTempDir('iscsi');
  const disk = path.join(dir, 'vda.raw');
  let tgtd: TgtdInstance;

  beforeAll(async () => {
    const fd = fs.openSync(disk, 'w');
    fs.writeSync(fd, randomBytes(3 * 1024 * 1024));
    fs.ftruncateSync(fd, 8 * 1024 * 1024);
    fs.closeSync(fd);
    tgtd = await TgtdInstance.start({ portal: { host: '127.0.0.1', port: await freePort() }, iqnPrefix: 'iqn.2026-12.lan.vplus:test' });
  });
  afterAll(async () => {
    await tgtd?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves the disk read-only to a named initiator with its CHAP credentials, bit-exact', async () => {
    const exp = await tgtd.addExport(disk, { names: [ALLOWED], addresses: [] }, 'b42-vda');
    expect(exp).toMatchObject({ tid: 1, targetName: 'iqn.2026-12.lan.vplus:test.b42-vda', lun: 1 });
    expect(exp.chap.password).toHaveLength(16);
    const out = path.join(dir, 'read.raw');
    await readLun(exp.portal, exp.targetName, { initiator: ALLOWED, user: exp.chap.user, password: exp.chap.password }, out);
    expect(sha(out)).toBe(sha(disk));

    // Without CHAP, with a wrong secret, or as another initiator: refused.
    await expect(readLun(exp.portal, exp.targetName, { initiator: ALLOWED }, path.join(dir, 'x1.raw'))).rejects.toThrow(/Authentication failure|log in/i);
    await expect(readLun(exp.portal, exp.targetName, { initiator: ALLOWED, user: exp.chap.user, password: 'not-the-secret1' }, path.join(dir, 'x2.raw'))).rejects.toThrow(/Authentication failure|log in/i);
    await expect(readLun(exp.portal, exp.targetName, { initiator: OTHER, user: exp.chap.user, password: exp.chap.password }, path.join(dir, 'x3.raw'))).rejects.toThrow(/log in|not found|Authorization|failed/i);

    // Read-only: a write from the allowed initiator fails and the disk is unchanged.
    const before = sha(disk);
    const opts = `driver=iscsi,transport=tcp,portal=${exp.portal},target=${exp.targetName},lun=1,initiator-name=${ALLOWED},user=${exp.chap.user},password=${exp.chap.password}`;
    await expect(exec('qemu-io', ['--image-opts', opts, '-c', 'write -P 0x5a 0 64k'], { timeout: 60_000 })).rejects.toThrow();
    expect(sha(disk)).toBe(before);

    await tgtd.removeExport(exp.tid);
    await expect(readLun(exp.portal, exp.targetName, { initiator: ALLOWED, user: exp.chap.user, password: exp.chap.password }, path.join(dir, 'x4.raw'))).rejects.toThrow();
  });

  it('refuses an export open to any initiator, and bad initiator names', async () => {
    await expect(tgtd.addExport(disk, { names: [], addresses: [] }, 'open')).rejects.toThrow(IscsiError);
    await expect(tgtd.addExport(disk, { names: ['not an iqn'], addresses: [] }, 'bad')).rejects.toThrow(/is not an initiator IQN/);
    expect(tgtd.list()).toEqual([]);
  });

  it('stop ends every export and the daemon', async () => {
    await tgtd.addExport(disk, { names: [], addresses: ['127.0.0.1'] }, 'by-address');
    const pid = tgtd.pid!;
    await tgtd.stop();
    expect(() => process.kill(pid, 0)).toThrow();
    expect(fs.existsSync(`/var/run/tgtd/socket.${tgtd.controlPort}`)).toBe(false);
  });
});
