import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backup, BackupPage, Task } from '../../../common/api/index.js';
import { defaultHandlers } from '../../../node-service/agent/node-service.js';
import { Repository } from '../../../node-service/repository/index.js';
import { vplus, vplusOk } from '../../support/processes.js';
import { enrollTestNode, type TestNode } from '../../support/test-node.js';
import { ADMIN, makeTempDir, setupAdmin, startTestServer, taskEnded, type TestServer } from '../../support/test-server.js';

/** `vplus backup protect|unprotect|note|delete` against a real server, node and repository. Run `npm run build:ts` first. */
describe('vplus backup protect / note / delete against a real server', () => {
  let t: TestServer;
  let admin: string;
  let node: TestNode;
  let dir: string;
  let repoPath: string;
  let env: Record<string, string>;
  let backups: Backup[];

  const run = async (args: string[]): Promise<{ code: number | null; output: string }> => {
    const p = vplus(args, env);
    p.child.stdin!.end();
    const code = await p.exited;
    return { code, output: p.output() };
  };

  beforeAll(async () => {
    t = await startTestServer();
    admin = await setupAdmin(t.api);
    node = await enrollTestNode(t.api, admin, { name: 'store-1', handlers: defaultHandlers({ name: 'store-1' }), serverUrl: t.server.url, fingerprint: t.server.fingerprint });
    dir = makeTempDir('cli-backups');
    repoPath = path.join(dir, 'repo');
    env = { VPLUS_CONFIG: path.join(dir, 'cli.json'), VPLUS_SERVER: '', VPLUS_FINGERPRINT: '', VPLUS_TOKEN: '' };
    await vplusOk(['login', '--server', t.server.url, '--user', ADMIN.username, '--password-stdin', '--fingerprint', t.server.fingerprint], env, `${ADMIN.password}\n`);
    await vplusOk(['destination', 'add', 'nas', '--node', 'store-1', '--path', repoPath], env);
    const repo = await Repository.open(repoPath);
    for (let i = 0; i < 2; i++) {
      const w = await repo.startBackup({ group: 'vm-7', source: { type: 'full', vm: { name: 'files' } } });
      const image = randomBytes(1048576);
      await w.writeDisk('vda', image.length, Readable.from([image]));
      await w.commit();
    }
    await repo.close();
    const task = (await t.api.request<Task>('POST', '/api/destinations/nas/import', {}, { token: admin })).body;
    expect((await taskEnded(t.api, admin, task.id)).state).toBe('FINISHED');
    backups = (await t.api.request<BackupPage>('GET', '/api/backups', undefined, { token: admin })).body.backups;
    expect(backups).toHaveLength(2);
  });
  afterAll(async () => {
    await node?.stop();
    await t?.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('protect, note and unprotect say what they did; --json prints the backup', async () => {
    const id = String(backups[0]!.id);
    expect(await vplusOk(['backup', 'protect', id], env)).toMatch(new RegExp(`^Backup ${id} of files \\(.*\\) on nas is protected: retention never removes it`));
    const noted = JSON.parse(await vplusOk(['backup', 'note', id, 'keep for the audit', '--json'], env)) as Backup;
    expect(noted).toMatchObject({ id: Number(id), protected: true, notes: 'keep for the audit' });
    const tooLong = await run(['backup', 'note', id, 'x'.repeat(1001)]);
    expect(tooLong.code).toBe(2);
    expect(tooLong.output).toMatch(/notes can be at most 1000 characters/);
    expect(await vplusOk(['backup', 'note', id, '--clear'], env)).toMatch(/has no notes now/);
  });

  it('delete refuses a protected backup, then deletes it once unprotected (--wait)', async () => {
    const id = String(backups[0]!.id);
    const refused = await run(['backup', 'delete', id, '--wait']);
    expect(refused.code).toBe(1);
    expect(refused.output).toMatch(/is protected; unprotect it first/);
    expect(await vplusOk(['backup', 'unprotect', id], env)).toMatch(/no longer protected/);
    const out = await vplusOk(['backup', 'delete', id, '--wait'], env);
    expect(out).toMatch(new RegExp(`Deleting backup ${id}: task \\d+ \\(BACKUP_DELETE\\) on its destination.s node \\(and one on each destination holding a copy of it\\)\\.`));
    expect(out).toMatch(new RegExp(`Backup ${id} is deleted`));
    const left = JSON.parse(await vplusOk(['backup', 'list', '--json'], env)) as Backup[];
    expect(left.map((b) => b.id)).toEqual([backups[1]!.id]);
    const bad = await run(['backup', 'delete', 'abc']);
    expect(bad.code).toBe(2);
  });
});
