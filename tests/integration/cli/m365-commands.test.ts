import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { M365Site, M365Tenant, M365User } from '../../../common/api/m365.js';
import { defaultHandlers } from '../../../node-service/agent/node-service.js';
import { loginCli, type CliSession } from '../../support/cli-session.js';
import { GraphEmulator, type AppRegistration, type Tenant } from '../../support/graph-emulator/index.js';
import { enrollTestNode, type TestNode } from '../../support/test-node.js';
import { makeTempDir, setupAdmin, startTestServer, type TestServer } from '../../support/test-server.js';

const SECRET = 'Cl1~the-app-secret-value';

/**
 * The built `vplus m365` against a real server (managed MariaDB), a real node agent with the
 * real handlers, and the Graph emulator, trusted through the tenant's CA (--ca-file): the
 * secret read from stdin, a wrong one refused with the sign-in's reason, list, test, sync
 * --wait, user and site lists. Run `npm run build:ts` first.
 */
describe('vplus m365 against a real server and the Graph emulator', () => {
  let emu: GraphEmulator;
  let tenant: Tenant;
  let app: AppRegistration;
  let t: TestServer;
  let node: TestNode;
  let dir: string;
  let cli: CliSession;
  let caFile: string;
  const add = (name: string, clientId: string) => [
    'm365', 'tenant', 'add', name, '--tenant-id', tenant.id, '--client-id', clientId, '--client-secret-stdin', '--node', 'cloud-cli',
    '--authority-host', emu.authorityHost, '--graph-url', emu.graphBaseUrl, '--ca-file', caFile,
  ];

  beforeAll(async () => {
    emu = await GraphEmulator.start();
    tenant = emu.addTenant({ domain: 'fabrikam.onmicrosoft.com' });
    app = tenant.addApp({ secret: SECRET, roles: ['User.Read.All', 'Files.Read.All', 'Sites.Read.All', 'Mail.Read'] });
    tenant.addUser({ userPrincipalName: 'dana@fabrikam.onmicrosoft.com', displayName: 'Dana Dix', mailbox: false });
    tenant.addUser({ userPrincipalName: 'eli@fabrikam.onmicrosoft.com', displayName: 'Eli Eng', drive: false });
    tenant.addSite({ name: 'hr', displayName: 'HR', libraries: ['Documents', 'Policies'] });
    t = await startTestServer();
    const admin = await setupAdmin(t.api);
    node = await enrollTestNode(t.api, admin, { name: 'cloud-cli', handlers: defaultHandlers({ name: 'cloud-cli' }), serverUrl: t.server.url, fingerprint: t.server.fingerprint });
    dir = makeTempDir('cli-m365');
    caFile = path.join(dir, 'proxy-ca.pem');
    fs.writeFileSync(caFile, emu.caPem);
    cli = await loginCli(t, dir);
  });

  afterAll(async () => {
    await node?.stop();
    await t?.destroy();
    await emu?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('tenant add refuses a wrong secret from stdin with the reason, and saves nothing', async () => {
    const refused = await cli.run(add('fabrikam', app.clientId), 'not-the-secret\n');
    expect(refused.code).toBe(1);
    expect(refused.output).toMatch(/\nerror: the client secret is wrong for app [0-9a-f-]+: use the secret's Value \(not its Secret ID\) from Certificates & secrets\ndetails: .*AADSTS7000215/);
    expect(refused.output).not.toContain('not-the-secret');
    expect(JSON.parse(await cli.ok(['m365', 'tenant', 'list', '--json']))).toEqual([]);
  });

  it('tenant add without a credential, or with a malformed id, is a usage error', async () => {
    const none = await cli.run(add('fabrikam', app.clientId).filter((a) => a !== '--client-secret-stdin'));
    expect(none.code).toBe(2);
    expect(none.output).toMatch(/error: give the app's credential: --client-secret-stdin/);
    const bad = await cli.run(add('fabrikam', 'not-a-guid'), `${SECRET}\n`);
    expect(bad.code).toBe(2);
    expect(bad.output).toMatch(/error: --client-id: the Application \(client\) ID: a GUID/);
  });

  it('tenant add with the secret on stdin signs in, names the permissions and starts the sync', async () => {
    const out = await cli.ok(add('fabrikam', app.clientId), `${SECRET}\n`);
    expect(out).toMatch(/Added tenant "fabrikam" \([0-9a-f-]+, app [0-9a-f-]+\) on node cloud-cli\.\n/);
    expect(out).toMatch(/Signed in; the app may read users, sites and files\n {2}ok {7}User\.Read\.All: list the users: allowed\n/);
    expect(out).toMatch(/Listing its users and sites: task \d+\. See them with: vplus m365 user list --tenant fabrikam\n/);
    expect(out).not.toContain(SECRET);
  });

  it('tenant list shows it; sync --wait prints what it found', async () => {
    const list = JSON.parse(await cli.ok(['m365', 'tenant', 'list', '--json'])) as M365Tenant[];
    expect(list).toEqual([expect.objectContaining({ name: 'fabrikam', tenantId: tenant.id, node: 'cloud-cli', credentialKind: 'secret', test: expect.objectContaining({ ok: true }) })]);
    expect(JSON.stringify(list)).not.toContain(SECRET);
    const sync = await cli.ok(['m365', 'tenant', 'sync', 'fabrikam', '--wait']);
    expect(sync).toMatch(/Listing the users and sites of tenant fabrikam: task \d+\.\n/);
    expect(sync).toMatch(/Found 2 users \(1 with a OneDrive, 1 with a mailbox\), 2 SharePoint sites with 3 document libraries\.\n/);
    expect(await cli.ok(['m365', 'tenant', 'list'])).toMatch(/^\d+\s+fabrikam\s+[0-9a-f-]+\s+cloud-cli\s+ok\s+ok\s+2\s+2\s+/m);
  });

  it('user list and site list show the inventory, as tables and as JSON', async () => {
    const users = JSON.parse(await cli.ok(['m365', 'user', 'list', '--tenant', 'fabrikam', '--json'])) as M365User[];
    expect(users.map((u) => ({ upn: u.upn, displayName: u.displayName, hasDrive: u.hasDrive, hasMailbox: u.hasMailbox, policy: u.policy, lastBackupAt: u.lastBackupAt }))).toEqual([
      { upn: 'dana@fabrikam.onmicrosoft.com', displayName: 'Dana Dix', hasDrive: true, hasMailbox: false, policy: null, lastBackupAt: null },
      { upn: 'eli@fabrikam.onmicrosoft.com', displayName: 'Eli Eng', hasDrive: false, hasMailbox: true, policy: null, lastBackupAt: null },
    ]);
    expect(users.every((u) => Number.isInteger(u.id))).toBe(true);
    expect(await cli.ok(['m365', 'user', 'list'])).toMatch(/^\d+\s+fabrikam\s+eli@fabrikam\.onmicrosoft\.com\s+Eli Eng\s+yes\s+no\s+present\s+-\s+/m);
    const sites = JSON.parse(await cli.ok(['m365', 'site', 'list', '--tenant', 'fabrikam', '--json'])) as M365Site[];
    expect(sites.find((s) => s.name === 'hr')?.libraries.map((l) => l.name)).toEqual(['Documents', 'Policies']);
    expect(await cli.ok(['m365', 'site', 'list'])).toMatch(/\s+HR\s+https:\/\/fabrikam\.sharepoint\.com\/sites\/hr\s+Documents, Policies\s+present\s+/);
  });

  it('tenant test names a permission taken away, exiting 1; remove forgets the tenant', async () => {
    app.roles = ['User.Read.All', 'Files.Read.All'];
    const test = await cli.run(['m365', 'tenant', 'test', 'fabrikam']);
    expect(test.code).toBe(1);
    expect(test.output).toMatch(/ {2}MISSING {2}Sites\.Read\.All: list the SharePoint sites was refused: grant the application permission Sites\.Read\.All/);
    expect(test.output).toMatch(/error: tenant fabrikam: Signed in, but Sites\.Read\.All is missing/);
    expect(await cli.ok(['m365', 'tenant', 'remove', 'fabrikam'])).toMatch(/Removed tenant "fabrikam" with 2 users and 2 sites from the inventory/);
    expect(JSON.parse(await cli.ok(['m365', 'user', 'list', '--json']))).toEqual([]);
  });
});
