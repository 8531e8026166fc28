import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Destination } from '../../../common/api/index.js';
import { defaultHandlers } from '../../../node-service/agent/node-service.js';
import { Repository } from '../../../node-service/repository/index.js';
import { loginCli, type CliSession } from '../../support/cli-session.js';
import { enrollTestNode, type TestNode } from '../../support/test-node.js';
import { makeTempDir, setupAdmin, startTestServer, type TestServer } from '../../support/test-server.js';

const FIRST_PASSWORD = 'first-password-1';
const NEW_PASSWORD = 'after-recovery-2';
const RESET_PASSWORD = 'reset-password-3';

/**
 * The recovery key from the command line, against a real server and a real node: the key
 * `destination add --password-stdin` printed opens the repository again after the catalog
 * forgot it (`add --recovery-key-file … --password-stdin`), and `destination reset-password`
 * sets a new password on a destination whose password stopped working. Run `npm run build:ts` first.
 */
describe('vplus destination add --recovery-key-file / reset-password', () => {
  let t: TestServer;
  let node: TestNode;
  let dir: string;
  let repoPath: string;
  let keyFile: string;
  let cli: CliSession;

  beforeAll(async () => {
    t = await startTestServer();
    const admin = await setupAdmin(t.api);
    node = await enrollTestNode(t.api, admin, { name: 'store-1', handlers: defaultHandlers({ name: 'store-1' }), serverUrl: t.server.url, fingerprint: t.server.fingerprint });
    dir = makeTempDir('cli-recovery');
    repoPath = path.join(dir, 'vault');
    keyFile = path.join(dir, 'vault.key');
    cli = await loginCli(t, dir);
  });

  afterAll(async () => {
    await node?.stop();
    await t?.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the key printed by add is kept in a file; a backup is stored; the catalog forgets the destination', async () => {
    const out = await cli.ok(['destination', 'add', 'vault', '--node', 'store-1', '--path', repoPath, '--password-stdin'], `${FIRST_PASSWORD}\n`);
    const block = /-----BEGIN VPLUS RECOVERY KEY-----\n[\s\S]*?-----END VPLUS RECOVERY KEY-----/.exec(out)?.[0];
    expect(block).toBeDefined();
    // As an admin would keep it: with a line of their own above it.
    fs.writeFileSync(keyFile, `vault on store-1, printed 2026-12-07\n\n${block!}\n`, { mode: 0o600 });

    const repo = await Repository.open(repoPath, { password: FIRST_PASSWORD }, { threads: 1 });
    const writer = await repo.startBackup({ group: 'vm-9', source: { type: 'full', vm: { name: 'mail' } } });
    const image = randomBytes(1024 * 1024);
    await writer.writeDisk('vda', image.length, Readable.from([image]));
    await writer.commit();
    await repo.close();
    await cli.ok(['destination', 'import', 'vault', '--wait']);
    await cli.ok(['destination', 'remove', 'vault', '--force']);
    expect(JSON.parse(await cli.ok(['destination', 'list', '--json']))).toEqual([]);
  });

  it('refuses a missing file, a file that is not a key, and a key without --password-stdin, as usage errors (exit 2)', async () => {
    const add = ['destination', 'add', 'vault', '--node', 'store-1', '--path', repoPath];
    const missing = await cli.run([...add, '--recovery-key-file', path.join(dir, 'nope.key'), '--password-stdin'], `${NEW_PASSWORD}\n`);
    expect(missing.code).toBe(2);
    expect(missing.output).toContain(`error: cannot read the recovery key file ${path.join(dir, 'nope.key')}: no such file\n`);

    const notAKey = path.join(dir, 'not-a-key.txt');
    fs.writeFileSync(notAKey, 'the password is on a post-it\n');
    const garbage = await cli.run([...add, '--recovery-key-file', notAKey, '--password-stdin'], `${NEW_PASSWORD}\n`);
    expect(garbage.code).toBe(2);
    expect(garbage.output).toContain(`error: --recovery-key-file ${notAKey}: not a vPlus recovery key: give the whole block, from -----BEGIN VPLUS RECOVERY KEY----- to -----END VPLUS RECOVERY KEY-----\n`);

    const noPassword = await cli.run([...add, '--recovery-key-file', keyFile]);
    expect(noPassword.code).toBe(2);
    expect(noPassword.output).toContain('error: --recovery-key-file sets a new password on the repository: give it with --password-stdin\n');
  });

  it('a mistyped key is refused by the node, naming the file (exit 1), and changes nothing', async () => {
    const key = fs.readFileSync(keyFile, 'utf8');
    const line = key.split('\n').find((l) => /^[0-9a-f]{8} /.test(l))!;
    const typoFile = path.join(dir, 'typo.key');
    fs.writeFileSync(typoFile, key.replace(line, `${line[0] === 'a' ? 'b' : 'a'}${line.slice(1)}`));
    const typo = await cli.run(['destination', 'add', 'vault', '--node', 'store-1', '--path', repoPath, '--recovery-key-file', typoFile, '--password-stdin'], `${NEW_PASSWORD}\n`);
    expect(typo.code).toBe(1);
    expect(typo.output).toMatch(new RegExp(`error: --recovery-key-file ${typoFile}: the recovery key cannot be read: .*check it for typos \\(on node store-1\\)\\n$`));
    await (await Repository.open(repoPath, { password: FIRST_PASSWORD }, { threads: 1 })).close();
  });

  it('add --recovery-key-file --password-stdin opens the repository with the key and sets the new password', async () => {
    const out = await cli.ok(['destination', 'add', 'vault', '--node', 'store-1', '--path', repoPath, '--recovery-key-file', keyFile, '--password-stdin'], `${NEW_PASSWORD}\n`);
    expect(out).toContain('warning: the new password replaces the old one on the repository of "vault" (the old one opens it no more; any other server using it needs the new one); keep a copy of it somewhere safe\n');
    expect(out).toContain(`Opening ${repoPath} on node store-1 with its recovery key…\n`);
    expect(out).toContain(`Opened the repository at ${repoPath} with its recovery key and set the new password; the old password opens it no more, the recovery key still does.\n`);
    expect(out).toMatch(new RegExp(`Added destination "vault" on node store-1 at ${repoPath} \\(encrypted\\), holding 1 backups already; .*\\n`));
    // The key is not printed again, and no password is.
    expect(out).not.toContain('BEGIN VPLUS RECOVERY KEY');
    expect(out).not.toContain(NEW_PASSWORD);
    await expect(Repository.open(repoPath, { password: FIRST_PASSWORD })).rejects.toMatchObject({ code: 'REPO_WRONG_PASSWORD' });
    await (await Repository.open(repoPath, { password: NEW_PASSWORD }, { threads: 1 })).close();
    expect(await cli.ok(['destination', 'import', 'vault', '--wait'])).toContain('Found 1 backup of 1 VM');
  });

  it('reset-password sets a new password on a destination whose password stopped working', async () => {
    const elsewhere = await Repository.openWithRecoveryKey(repoPath, fs.readFileSync(keyFile, 'utf8'), { threads: 1 });
    await elsewhere.changePassword('changed-elsewhere-4');
    await elsewhere.close();
    const failing = await cli.run(['destination', 'refresh', 'vault', '--wait']);
    expect(failing.code).toBe(1);
    expect(failing.output).toMatch(/password .* is wrong/);

    const usage = await cli.run(['destination', 'reset-password', 'vault', '--password-stdin'], `${RESET_PASSWORD}\n`);
    expect(usage.code).toBe(2);
    expect(usage.output).toContain('error: give the recovery key with --recovery-key-file FILE');

    const out = await cli.ok(['destination', 'reset-password', 'vault', '--recovery-key-file', keyFile, '--password-stdin'], `${RESET_PASSWORD}\n`);
    expect(out).toContain(`Setting the new password on ${repoPath} on node store-1 with the recovery key…\n`);
    expect(out).toContain('Set the new password of destination "vault"; the old password opens it no more, the recovery key still does.\nChecked with the new password: 1 backup on the destination.\n');
    expect(out).not.toContain(RESET_PASSWORD);
    const [listed] = JSON.parse(await cli.ok(['destination', 'list', '--json'])) as Destination[];
    expect(listed).toMatchObject({ name: 'vault', status: 'ok', backups: 1 });
    await expect(Repository.open(repoPath, { password: 'changed-elsewhere-4' })).rejects.toMatchObject({ code: 'REPO_WRONG_PASSWORD' });
    expect(await cli.ok(['destination', 'verify', 'vault', '--wait'])).toMatch(/no problems found/);
  });
});
