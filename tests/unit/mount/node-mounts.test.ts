/**
 * The node's open mounts: calls are routed to the filesystem named first in the path, the
 * root lists the filesystems, unknown and unreadable ones are refused by name, and a mount
 * nobody uses closes itself after its idle timeout (extend resets it).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import type { NodeToServer } from '../../../common/node-protocol.js';
import { NodeMounts, type CloseReason } from '../../../node-service/agent/mounts/node-mounts.js';
import type { MountedVolume } from '../../../node-service/mount/mount-session.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-mounts-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function setup(idleSeconds = 3600) {
  const root = path.join(dir, `fs-${Math.random().toString(36).slice(2)}`);
  fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc', 'hosts'), '127.0.0.1 localhost\n');
  const volumes: MountedVolume[] = [
    { name: 'vda1', disk: 'vda', kind: 'partition', type: 'ext4', size: 1 << 20, readable: true, path: root },
    { name: 'vda2', disk: 'vda', kind: 'partition', type: 'crypto_LUKS', size: 1 << 20, readable: false, reason: 'encrypted (LUKS)' },
  ];
  const sent: NodeToServer[] = [];
  const mounts = new NodeMounts(pino({ level: 'silent' }), { idleCheckMs: 20 });
  mounts.connect((m) => (sent.push(m), true), () => true);
  const closed: CloseReason[] = [];
  mounts.register({ mountId: 5, taskId: 50, volumes, idleSeconds, requestClose: (r) => closed.push(r) });
  const answer = async (op: string, args: Record<string, unknown>) => {
    const id = sent.length + 1000;
    await mounts.call(id, 5, op, args);
    const r = sent.find((m) => m.type === 'call.result' && m.callId === id) as Extract<NodeToServer, { type: 'call.result' }>;
    return r;
  };
  return { mounts, sent, closed, answer };
}

describe('NodeMounts', () => {
  it('tells the server the mount is open, with its filesystems', () => {
    const { sent, mounts } = setup();
    expect(sent[0]).toMatchObject({ type: 'mount.ready', taskId: 50, mountId: 5, filesystems: [{ name: 'vda1', type: 'ext4', readable: true }, { name: 'vda2', readable: false, reason: 'encrypted (LUKS)' }] });
    void mounts.closeAll(0);
  });

  it('lists the root as one folder per filesystem and routes paths to their filesystem', async () => {
    const { answer, mounts } = setup();
    const root = await answer('list', { path: '' });
    expect((root.result as { entries: { name: string; type: string }[] }).entries.map((e) => [e.name, e.type])).toEqual([
      ['vda1', 'dir'],
      ['vda2', 'other'],
    ]);
    const etc = await answer('list', { path: '/vda1/etc/' });
    expect(etc.result).toMatchObject({ path: 'vda1/etc', entries: [{ name: 'hosts', type: 'file' }] });
    expect((await answer('list', { path: 'vdz9' })).error).toMatchObject({ code: 'NOT_FOUND' });
    expect((await answer('list', { path: 'vda2/x' })).error).toMatchObject({ code: 'NOT_READABLE', message: expect.stringContaining('LUKS') as unknown });
    expect((await answer('list', { path: 'vda1/../..' })).error).toMatchObject({ code: 'PATH_ESCAPE' });
    expect((await answer('frobnicate', {})).error).toMatchObject({ code: 'INVALID_ARGUMENT' });
    void mounts.closeAll(0);
  });

  it('closes a mount nobody used for its idle timeout, once, and extend pushes that back', async () => {
    const { closed, answer, mounts } = setup(1);
    const m = mounts.get(5);
    // Unused for 2 s, but extended to 60 s: the checker (every 20 ms) leaves it open.
    await answer('extend', { idleSeconds: 60 });
    m.lastUsedAt = Date.now() - 2000;
    const checks = (n: number) => new Promise((r) => setTimeout(r, 20 * n));
    await checks(5);
    expect(closed).toEqual([]);
    // With a 1 s timeout the same idleness closes it, asked once however many checks pass.
    m.idleSeconds = 1;
    const until = Date.now() + 5000;
    while (closed.length === 0 && Date.now() < until) await checks(1);
    await checks(5);
    expect(closed).toEqual(['idle']);
    void mounts.closeAll(0);
  });

  it('answers calls for a mount that is not open with MOUNT_NOT_OPEN', async () => {
    const { mounts, sent } = setup();
    mounts.unregister(5);
    await mounts.call(1, 5, 'list', { path: '' });
    expect(sent.at(-1)).toMatchObject({ type: 'call.result', callId: 1, error: { code: 'MOUNT_NOT_OPEN' } });
    void mounts.closeAll(0);
  });
});
