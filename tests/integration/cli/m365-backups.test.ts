import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowseEntry, M365Backup } from '../../../common/api/index.js';
import { defaultHandlers } from '../../../node-service/agent/node-service.js';
import { loginCli, type CliSession } from '../../support/cli-session.js';
import { GraphEmulator, type AppRegistration, type Drive, type Tenant } from '../../support/graph-emulator/index.js';
import { sh } from '../../support/libvirt-host.js';
import { vplus } from '../../support/processes.js';
import { requireBinary } from '../../support/requirements.js';
import { enrollTestNode, type TestNode } from '../../support/test-node.js';
import { makeTempDir, setupAdmin, startTestServer, type TestServer } from '../../support/test-server.js';

const SECRET = 'Cl1~the-app-secret-value';
const DANA = 'dana@fabrikam.onmicrosoft.com';
const ELI = 'eli@fabrikam.onmicrosoft.com';
const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
type DriveState = Awaited<ReturnType<Drive['snapshot']>>;
/** The SHA-256 of a file in a drive's snapshot; undefined for a folder or nothing. */
const fileSha = (state: DriveState, at: string): string | undefined => {
  const entry = state[at];
  return entry?.type === 'file' ? entry.sha256 : undefined;
};

/**
 * The built `vplus m365 backup|browse|export|restore` against a real server (managed
 * MariaDB), a real node agent with the real handlers (mounts included), a destination on that
 * node and the Graph emulator: a OneDrive and a site of two libraries backed up with --wait,
 * listed, browsed by the paths CLI.md writes (/drive/…, /libraries/<name>/…), exported to
 * zips that are read back, restored into a new folder, to the original place over a change,
 * with a conflict skipped, and to another user; flags the API would refuse exit 2 naming
 * them, a path in none of the backup's drives exits 2 naming the drives it holds, and what
 * the server refuses exits 1 with its reason. What the node restored is compared with the
 * emulator's drives by SHA-256. Run `npm run build:ts` first.
 */
describe('vplus m365 backups against a real server, node and the Graph emulator', () => {
  let emu: GraphEmulator;
  let tenant: Tenant;
  let app: AppRegistration;
  let dana: Drive;
  let documents: Drive;
  let t: TestServer;
  let node: TestNode;
  let dir: string;
  let cli: CliSession;
  let userBackup: number;
  let siteBackup: number;
  let original: DriveState;

  /** stdout alone, parsed (notes go to stderr). */
  const json = async <T>(args: string[]): Promise<T> => {
    const p = vplus(args, cli.env);
    let stdout = '';
    p.child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    p.child.stdin!.end();
    const code = await p.exited;
    if (code !== 0) throw new Error(`vplus ${args.join(' ')} exited ${code}: ${p.output()}`);
    return JSON.parse(stdout) as T;
  };

  beforeAll(async () => {
    requireBinary(['/usr/bin/unzip', '/bin/unzip'], 'bash build/setup.sh --test');
    emu = await GraphEmulator.start();
    tenant = emu.addTenant({ domain: 'fabrikam.onmicrosoft.com' });
    app = tenant.addApp({ secret: SECRET });
    tenant.addUser({ userPrincipalName: DANA, displayName: 'Dana Dix', mailbox: false });
    tenant.addUser({ userPrincipalName: ELI, displayName: 'Eli Eng', mailbox: false });
    const hr = tenant.addSite({ name: 'hr', displayName: 'HR', libraries: ['Documents', 'Policies'] });
    dana = tenant.driveOf(DANA);
    dana.seed({
      'Docs/Report.txt': { content: 'the report, first version', lastModified: new Date('2021-05-06T07:08:09Z') },
      'Docs/Sub/deep.md': '# deep',
      'Фото/café ☕.txt': 'unicode names',
      'empty.txt': '',
      'big.bin': { size: 3 * 1024 * 1024 + 17, seed: 'big' },
    });
    original = await dana.snapshot();
    documents = hr.library('Documents');
    documents.seed({ 'Q3/plan.txt': 'the plan', 'memo.txt': 'memo' });
    hr.library('Policies').seed({ 'leave.txt': 'leave policy' });

    t = await startTestServer();
    const admin = await setupAdmin(t.api);
    node = await enrollTestNode(t.api, admin, { name: 'cloud-cli', handlers: (mount) => defaultHandlers({ name: 'cloud-cli' }, {}, mount), serverUrl: t.server.url, fingerprint: t.server.fingerprint });
    dir = makeTempDir('cli-m365-backups');
    const caFile = path.join(dir, 'proxy-ca.pem');
    fs.writeFileSync(caFile, emu.caPem);
    cli = await loginCli(t, dir);
    await cli.ok(['destination', 'add', 'nas', '--node', 'cloud-cli', '--path', path.join(dir, 'repo')]);
    await cli.ok(
      ['m365', 'tenant', 'add', 'fabrikam', '--tenant-id', tenant.id, '--client-id', app.clientId, '--client-secret-stdin', '--node', 'cloud-cli', '--authority-host', emu.authorityHost, '--graph-url', emu.graphBaseUrl, '--ca-file', caFile],
      `${SECRET}\n`,
    );
    await cli.ok(['m365', 'tenant', 'sync', 'fabrikam', '--wait']);
  });

  afterAll(async () => {
    await node?.stop();
    await t?.destroy();
    await emu?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('backup run: a flag the API would refuse exits 2 naming it; an unknown destination, user or tenant exits 1 with the reason', async () => {
    const blank = await cli.run(['m365', 'backup', 'run', DANA, '--destination', ' ']);
    expect(blank.code).toBe(2);
    expect(blank.output).toMatch(/^error: --destination: /m);
    const noDestination = await cli.run(['m365', 'backup', 'run', DANA]);
    expect(noDestination.code).toBe(2);
    expect(noDestination.output).toContain("required option '--destination <dest>' not specified");
    const nowhere = await cli.run(['m365', 'backup', 'run', DANA, '--destination', 'nowhere']);
    expect(nowhere.code).toBe(1);
    expect(nowhere.output).toMatch(/^error: there is no destination "nowhere"$/m);
    const nobody = await cli.run(['m365', 'backup', 'run', 'nobody@fabrikam.onmicrosoft.com', '--destination', 'nas']);
    expect(nobody.code).toBe(1);
    expect(nobody.output).toMatch(/^error: there is no user "nobody@fabrikam\.onmicrosoft\.com"/m);
    const otherTenant = await cli.run(['m365', 'backup', 'run', DANA, '--destination', 'nas', '--tenant', 'contoso']);
    expect(otherTenant.code).toBe(1);
    expect(otherTenant.output).toMatch(/^error: there is no Microsoft 365 tenant "contoso"$/m);
  });

  it('backup list: empty at first; a cursor the API refuses exits 1 naming the field', async () => {
    expect(await json(['m365', 'backup', 'list', '--json'])).toEqual([]);
    expect(await cli.ok(['m365', 'backup', 'list'])).toBe('No Microsoft 365 backups. Take one with vplus m365 backup run USER|SITE --destination DEST.\n');
    expect(await cli.ok(['m365', 'backup', 'list', 'hr', '--tenant', 'fabrikam'])).toBe('No Microsoft 365 backups of hr in tenant fabrikam. Take one with vplus m365 backup run USER|SITE --destination DEST.\n');
    const cursor = await cli.run(['m365', 'backup', 'list', '--cursor', 'yesterday']);
    expect(cursor.code).toBe(1);
    expect(cursor.output).toMatch(/^error: querystring field "cursor": /m);
  });

  it("backup run --wait backs up a user's OneDrive and says what it backed up, and the backup's id", async () => {
    const out = await cli.ok(['m365', 'backup', 'run', DANA, '--destination', 'nas', '--wait']);
    const files = Object.values(original).filter((e) => e.type === 'file');
    expect(out).toMatch(/^Backing up dana@fabrikam\.onmicrosoft\.com to destination nas: task \d+ \(M365_BACKUP\)\.\n/);
    expect(out).toMatch(new RegExp(`\\nBacked up 1 drive: \\d+ items \\(${files.length} files, \\d+ folders, 3\\.\\d\\d MiB\\); read ${files.length} files \\(3\\.\\d\\d MiB\\), stored `));
    expect(out).toMatch(/\n {2}drive\s+full\s+\d+\s+5\s+3\.\d\d MiB\s+/);
    const id = /\nBackup (\d+) on destination nas; browse it with: vplus m365 browse (\d+)\n/.exec(out);
    expect(id?.[1]).toBe(id?.[2]);
    userBackup = Number(id![1]);
  });

  it('backup list shows the backup, by user and as JSON', async () => {
    const backups = await json<M365Backup[]>(['m365', 'backup', 'list', DANA, '--json']);
    expect(backups).toEqual([expect.objectContaining({ id: userBackup, tenant: 'fabrikam', subject: expect.objectContaining({ kind: 'user', name: DANA }), destination: 'nas', kind: 'full', files: 5 })]);
    expect(backups[0]!.parts.map((p) => p.name)).toEqual(['drive']);
    expect(await cli.ok(['m365', 'backup', 'list', '--tenant', 'fabrikam'])).toMatch(new RegExp(`^${userBackup}\\s+fabrikam\\s+dana@fabrikam\\.onmicrosoft\\.com\\s+full\\s+\\S+ \\S+\\s+\\d+\\s+3\\.\\d\\d MiB\\s+\\S+ \\S+\\s+0\\s+nas$`, 'm'));
    expect(await json(['m365', 'backup', 'list', 'hr', '--json'])).toEqual([]);
  });

  it('browse lists the drives, then a folder given with or without the leading slash', async () => {
    const root = await cli.run(['m365', 'browse', String(userBackup)]);
    expect(root.code).toBe(0);
    expect(root.output).toMatch(new RegExp(`Backup ${userBackup} of dana@fabrikam\\.onmicrosoft\\.com \\(.*\\) is open as mount \\d+ on node cloud-cli; it closes after `));
    expect(root.output).toMatch(/^folder\s+-\s+\S+ \S+\s+drive\/$/m);
    const docs = await json<BrowseEntry[]>(['m365', 'browse', String(userBackup), '/drive/Docs', '--json']);
    expect(docs.map((e) => [e.name, e.type, e.size])).toEqual([
      ['Report.txt', 'file', Buffer.byteLength('the report, first version')],
      ['Sub', 'dir', expect.any(Number)],
    ]);
    expect(await json<BrowseEntry[]>(['m365', 'browse', String(userBackup), 'drive/Docs/', '--json'])).toEqual(docs);
  });

  it('export writes the zip whole under its name, and does not replace it without --force', async () => {
    const zip = path.join(dir, 'docs.zip');
    const out = await cli.ok(['m365', 'export', String(userBackup), '/drive/Docs', '/drive/empty.txt', '--output', zip]);
    expect(out).toMatch(new RegExp(`Saved /drive/Docs, /drive/empty\\.txt of backup ${userBackup} of dana@fabrikam\\.onmicrosoft\\.com \\(.*\\) to ${zip.replaceAll('.', '\\.')} \\(\\d+ B\\)\\.\\n`));
    const listing = await sh('unzip', ['-Z1', zip]);
    expect(listing.split('\n').filter((l) => l !== '' && !l.endsWith('/')).sort()).toEqual(['Docs/Report.txt', 'Docs/Sub/deep.md', 'empty.txt']);
    expect(await sh('unzip', ['-p', zip, 'Docs/Report.txt'])).toBe('the report, first version');
    const again = await cli.run(['m365', 'export', String(userBackup), '--output', zip]);
    expect(again.code).toBe(1);
    expect(again.output).toContain(`error: ${zip} exists already; give --force to replace it`);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.part'))).toEqual([]);
  });

  it("export without a path zips the backup's drive whole; a path in no drive exits 2 naming the drives", async () => {
    const zip = path.join(dir, 'all.zip');
    const out = await cli.ok(['m365', 'export', String(userBackup), '--output', zip]);
    expect(out).toMatch(new RegExp(`Saved /drive of backup ${userBackup} of dana@fabrikam\\.onmicrosoft\\.com \\(.*\\) to .*all\\.zip \\(3\\.\\d\\d MiB\\)\\.\\n`));
    const names = (await sh('unzip', ['-Z1', zip])).split('\n').filter((l) => l !== '' && !l.endsWith('/'));
    expect(names.sort()).toEqual(Object.entries(original).filter(([, e]) => e.type === 'file').map(([p]) => p.slice(1)).sort());
    expect(sha256(Buffer.from(await sh('unzip', ['-p', zip, 'Фото/café ☕.txt'])))).toBe(fileSha(original, '/Фото/café ☕.txt'));
    expect(await sh('unzip', ['-Z', '-l', zip, 'big.bin'])).toContain(String(3 * 1024 * 1024 + 17));
    const elsewhere = await cli.run(['m365', 'export', String(userBackup), '/mail/Inbox', '--output', path.join(dir, 'mail.zip')]);
    expect(elsewhere.code).toBe(2);
    expect(elsewhere.output).toContain(`error: backup ${userBackup} has no /mail ("/mail/Inbox"); it holds /drive`);
  });

  it('restore --wait puts a folder into a new Restore folder, as it was backed up', async () => {
    const out = await cli.ok(['m365', 'restore', String(userBackup), '/drive/Docs', '--wait']);
    expect(out).toMatch(new RegExp(`^Restoring /drive/Docs from backup ${userBackup} of dana@fabrikam\\.onmicrosoft\\.com \\(.*\\) to a new Restore-<date> folder in the OneDrive of dana@fabrikam\\.onmicrosoft\\.com: task \\d+ \\(M365_RESTORE\\)\\.\\n`));
    const restored = /\nRestored 2 files and (\d+) folders? \(\d+ B\) to (\/Restore-[^\n]*?) in /.exec(out);
    expect(restored).not.toBeNull();
    const now = await dana.snapshot();
    const root = restored![2]!;
    expect(fileSha(now, `${root}/Docs/Report.txt`)).toBe(sha256('the report, first version'));
    expect(fileSha(now, `${root}/Docs/Sub/deep.md`)).toBe(sha256('# deep'));
  });

  it('restore --original-place brings back a changed file with replace, and names what it skipped with skip', async () => {
    dana.editFile('Docs/Report.txt', 'changed since');
    const replaced = await cli.ok(['m365', 'restore', String(userBackup), '/drive/Docs/Report.txt', '--original-place', '--conflict', 'replace', '--wait']);
    expect(replaced).toMatch(/to their original places in the OneDrive of dana@fabrikam\.onmicrosoft\.com: task \d+ \(M365_RESTORE\)\./);
    expect(replaced).toMatch(/\nRestored 1 file and 0 folders \(25 B\) to /);
    expect(fileSha(await dana.snapshot(), '/Docs/Report.txt')).toBe(sha256('the report, first version'));
    const skipped = await cli.ok(['m365', 'restore', String(userBackup), '/drive/Docs/Report.txt', '--original-place', '--conflict', 'skip', '--wait']);
    expect(skipped).toMatch(/\nRestored 0 files and 0 folders \(0 B\) to [^\n]*\nSkipped 1 item:\n {2}\S*Report\.txt: .+\n/);
  });

  it('restore to another user, and the usage errors of restore', async () => {
    const eli = tenant.driveOf(ELI);
    const out = await cli.ok(['m365', 'restore', String(userBackup), '/drive/Фото', '--to', ELI, '--folder', 'From Dana', '--wait']);
    expect(out).toMatch(/to folder "From Dana" in the OneDrive of eli@fabrikam\.onmicrosoft\.com: task \d+/);
    expect(fileSha(await eli.snapshot(), '/From Dana/Фото/café ☕.txt')).toBe(sha256('unicode names'));
    const both = await cli.run(['m365', 'restore', String(userBackup), '--folder', 'x', '--original-place']);
    expect(both.code).toBe(2);
    expect(both.output).toContain('error: give either --folder NAME or --original-place, not both');
    const conflict = await cli.run(['m365', 'restore', String(userBackup), '--conflict', 'overwrite']);
    expect(conflict.code).toBe(2);
    expect(conflict.output).toContain('use one of skip, copy, replace.');
  });

  it("a site's backup has a folder per library, browsed under /libraries; a restore names one library", async () => {
    const out = await cli.ok(['m365', 'backup', 'run', 'hr', '--destination', 'nas', '--wait']);
    expect(out).toMatch(/^Backing up site hr to destination nas: task \d+ \(M365_BACKUP\)\.\n/);
    expect(out).toMatch(/\nBacked up 2 drives: \d+ items \(3 files, \d+ folders?, \d+ B\); /);
    siteBackup = Number(/\nBackup (\d+) on destination nas;/.exec(out)![1]);
    const libraries = await json<BrowseEntry[]>(['m365', 'browse', String(siteBackup), '/libraries', '--json']);
    expect(libraries.map((e) => e.name).sort()).toEqual(['Documents', 'Policies']);
    const q3 = await json<BrowseEntry[]>(['m365', 'browse', String(siteBackup), '/libraries/Documents/Q3', '--json']);
    expect(q3.map((e) => e.name)).toEqual(['plan.txt']);
    expect(await json(['m365', 'browse', String(siteBackup), 'Documents/Q3', '--json'])).toEqual(q3);
    expect(await cli.ok(['m365', 'backup', 'list', 'hr'])).toMatch(new RegExp(`^${siteBackup}\\s+fabrikam\\s+site hr\\s+full\\s+`, 'm'));

    const unnamed = await cli.run(['m365', 'restore', String(siteBackup)]);
    expect(unnamed.code).toBe(2);
    expect(unnamed.output).toContain(`error: backup ${siteBackup} holds /libraries/Documents, /libraries/Policies; name what to restore, e.g. /libraries/Documents`);
    const two = await cli.run(['m365', 'restore', String(siteBackup), '/libraries/Documents/memo.txt', '/libraries/Policies/leave.txt']);
    expect(two.code).toBe(2);
    expect(two.output).toContain('a restore works in one drive at a time');
    const whole = await cli.run(['m365', 'export', String(siteBackup), '--output', path.join(dir, 'hr.zip')]);
    expect(whole.code).toBe(2);
    expect(whole.output).toContain(`error: backup ${siteBackup} holds /libraries/Documents, /libraries/Policies; name what to export, e.g. /libraries/Documents`);
    const policies = path.join(dir, 'policies.zip');
    await cli.ok(['m365', 'export', String(siteBackup), '/libraries/Policies', '--output', policies]);
    expect(await sh('unzip', ['-p', policies, 'leave.txt'])).toBe('leave policy');

    documents.deletePath('Q3');
    const back = await cli.ok(['m365', 'restore', String(siteBackup), '/libraries/Documents/Q3', '--original-place', '--wait']);
    expect(back).toMatch(/^Restoring \/libraries\/Documents\/Q3 from backup \d+ of site hr \(.*\) to their original places in library Documents of site hr: task \d+ \(M365_RESTORE\)\.\n/);
    expect(back).toMatch(/\nRestored 1 file and 1 folder \(8 B\) to /);
    expect(fileSha(await documents.snapshot(), '/Q3/plan.txt')).toBe(sha256('the plan'));
  });

  it('an incremental backup names what it could not read as warnings; the list counts them', async () => {
    dana.addFile('Docs/new.txt', 'new');
    const broken = dana.addFile('Docs/broken.txt', 'broken');
    emu.failDownload(dana, broken, { status: 403 });
    const run = await cli.run(['m365', 'backup', 'run', DANA, '--destination', 'nas', '--wait']);
    emu.clearDownloadFailures();
    expect(run.code).toBe(0);
    expect(run.output).toMatch(/^warning: the OneDrive of dana@fabrikam\.onmicrosoft\.com: \/Docs\/broken\.txt could not be backed up: /m);
    expect(run.output).toMatch(/^Task \d+ \(M365_BACKUP [^)]*\) finished in .+ with 1 warning\.$/m);
    expect(run.output).toMatch(/\n {2}drive\s+incremental\s+/);
    const latest = (await json<M365Backup[]>(['m365', 'backup', 'list', DANA, '--json']))[0]!;
    expect(latest.id).toBeGreaterThan(userBackup);
    expect(latest.warnings).toEqual([expect.stringContaining('/Docs/broken.txt could not be backed up')]);
    expect(await cli.ok(['m365', 'backup', 'list', DANA])).toMatch(new RegExp(`^${latest.id}\\s+fabrikam\\s+\\S+\\s+incremental\\s+\\S+ \\S+\\s+\\d+\\s+\\S+ \\S+\\s+\\S+ \\S+\\s+1\\s+nas$`, 'm'));
  });

  it('a restore of which nothing could be written fails: exit 1 with the reason, each file named', async () => {
    const roles = app.roles;
    app.roles = roles.filter((r) => !r.includes('ReadWrite'));
    emu.expireAccessTokens();
    try {
      const refused = await cli.run(['m365', 'restore', String(userBackup), '/drive/Docs/Report.txt', '--folder', 'Refused', '--wait']);
      expect(refused.code).toBe(1);
      expect(refused.output).toMatch(/\nCould not restore 1 item:\n {2}\S*Report\.txt: .+\n/);
      expect(refused.output).toMatch(/^error: task \d+ \(M365_RESTORE [^)]*\) failed: none of the 1 file could be restored to the OneDrive of dana@fabrikam\.onmicrosoft\.com/m);
      expect(Object.keys(await dana.snapshot()).filter((p) => p.startsWith('/Refused/') && p !== '/Refused/Docs')).toEqual([]);
    } finally {
      app.roles = roles;
      emu.expireAccessTokens();
    }
  });

  it('backup list pages newest first: --limit, then the --cursor it prints', async () => {
    const all = await json<M365Backup[]>(['m365', 'backup', 'list', '--json']);
    expect(all.length).toBe(3);
    const seen: number[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < all.length + 1; page++) {
      const first = await cli.run(['m365', 'backup', 'list', '--limit', '1', ...(cursor ? ['--cursor', cursor] : [])]);
      expect(first.code).toBe(0);
      seen.push(Number(/^(\d+)\s+fabrikam\s/m.exec(first.output)?.[1]));
      cursor = /There are older backups: add --cursor (\S+) for the next 1\./.exec(first.output)?.[1];
      if (cursor === undefined) break;
    }
    expect(seen).toEqual(all.map((b) => b.id));
  });
});
