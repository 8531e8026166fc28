import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultHandlers } from '../../../node-service/agent/node-service.js';
import { loginCli, type CliSession } from '../../support/cli-session.js';
import { GraphEmulator, type Tenant } from '../../support/graph-emulator/index.js';
import { vplus } from '../../support/processes.js';
import { enrollTestNode, type TestNode } from '../../support/test-node.js';
import { makeTempDir, setupAdmin, startTestServer, type TestServer } from '../../support/test-server.js';

const SECRET = 'Cl1~the-app-secret-value';
const DANA = 'dana@fabrikam.onmicrosoft.com';
const ELI = 'eli@fabrikam.onmicrosoft.com';

/**
 * The built `vplus m365 backup` against a real server (managed MariaDB), a real node agent
 * with the real handlers, a destination on that node and the Graph emulator: what a backup
 * needs is checked, each flag the API would refuse exits 2 naming it, and what the server
 * refuses (an unknown destination, user or tenant; a malformed cursor) exits 1 with its
 * reason. Run `npm run build:ts` first.
 */
describe('vplus m365 backups against a real server, node and the Graph emulator', () => {
  let emu: GraphEmulator;
  let tenant: Tenant;
  let t: TestServer;
  let node: TestNode;
  let dir: string;
  let cli: CliSession;

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
    emu = await GraphEmulator.start();
    tenant = emu.addTenant({ domain: 'fabrikam.onmicrosoft.com' });
    const app = tenant.addApp({ secret: SECRET });
    tenant.addUser({ userPrincipalName: DANA, displayName: 'Dana Dix' });
    tenant.addUser({ userPrincipalName: ELI, displayName: 'Eli Eng' });
    const hr = tenant.addSite({ name: 'hr', displayName: 'HR', libraries: ['Documents', 'Policies'] });
    tenant.driveOf(DANA).seed({
      'Docs/Report.txt': { content: 'the report, first version', lastModified: new Date('2021-05-06T07:08:09Z') },
      'Docs/Sub/deep.md': '# deep',
      'Фото/café ☕.txt': 'unicode names',
      'empty.txt': '',
      'big.bin': { size: 3 * 1024 * 1024 + 17, seed: 'big' },
    });
    hr.library('Documents').seed({ 'Q3/plan.txt': 'the plan', 'memo.txt': 'memo' });
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

});
