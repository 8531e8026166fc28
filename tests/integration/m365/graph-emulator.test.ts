/**
 * The Microsoft Graph and identity-platform emulator (tests/support/graph-emulator) proved
 * against the real @azure/msal-node client and plain fetch (undici trusting the emulator's CA):
 * client credentials with a secret and with a certificate, the STS errors, token checks and
 * missing permissions on Graph, users and sites, delta paging / incremental / resync, Range
 * downloads, simple uploads and upload sessions, folder conflicts, $batch, throttling and the
 * concurrency counter. Nothing here talks to anything but loopback.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfidentialClientApplication, ServerError } from '@azure/msal-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AppRegistration,
  type Drive,
  EmulatorNetworkClient,
  GraphEmulator,
  type Tenant,
  type TrustingFetch,
  makeAppCertificate,
  msalConfig,
  QuickXorHash,
  quickXorHash,
  trustingFetch,
} from '../../support/graph-emulator/index.js';

const MiB = 1024 * 1024;
const SECRET = 'correct horse battery staple';

/** Loose views of Graph's JSON, enough for the assertions. */
interface Item {
  id: string;
  name?: string;
  displayName?: string;
  userPrincipalName?: string;
  isPersonalSite?: boolean;
  driveType?: string;
  size?: number;
  root?: object;
  deleted?: { state: string };
  file?: { hashes?: Record<string, string> };
  folder?: { childCount: number };
  parentReference?: { id?: string; path?: string };
  fileSystemInfo?: { lastModifiedDateTime?: string };
}
interface Body extends Partial<Item> {
  value?: Item[];
  error?: { code: string; message: string; innerError?: { code?: string } };
  responses?: { id: string; status: number; headers?: Record<string, string>; body?: Body }[];
  uploadUrl?: string;
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
  '@microsoft.graph.downloadUrl'?: string;
}
type Claims = Record<string, unknown>;

let emu: GraphEmulator;
let tenant: Tenant;
let app: AppRegistration;
let alice: Drive;
let fetchE: TrustingFetch;
let token: string;

async function acquire(credential: Parameters<typeof msalConfig>[3], a: AppRegistration = app, t: Tenant = tenant): Promise<{ token: string; client: EmulatorNetworkClient }> {
  const client = new EmulatorNetworkClient(fetchE);
  const cca = new ConfidentialClientApplication(msalConfig(emu, t, a, credential, client));
  const result = await cca.acquireTokenByClientCredential({ scopes: [`${emu.graphOrigin}/.default`] });
  return { token: result!.accessToken, client };
}

async function graph(path: string, init: { method?: string; body?: unknown; headers?: Record<string, string>; token?: string | null } = {}): Promise<{ status: number; body: Body; headers: Headers }> {
  const url = path.startsWith('https://') ? path : emu.graphBaseUrl + path;
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  const bearer = init.token === undefined ? token : init.token;
  if (bearer !== null) headers.authorization = `Bearer ${bearer}`;
  let body: string | Buffer | undefined;
  if (Buffer.isBuffer(init.body)) body = init.body;
  else if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetchE(url, { method: init.method ?? 'GET', headers, body, redirect: 'manual' });
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Body), headers: res.headers as unknown as Headers };
}

async function allPages(first: string): Promise<{ items: Item[]; deltaLink: string; pages: number }> {
  const items: Item[] = [];
  let url = first;
  for (let pages = 1; ; pages++) {
    const r = await graph(url);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    items.push(...(r.body.value ?? []));
    if (typeof r.body['@odata.nextLink'] === 'string') url = r.body['@odata.nextLink'];
    else return { items, deltaLink: r.body['@odata.deltaLink']!, pages };
  }
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  emu = await GraphEmulator.start();
  fetchE = trustingFetch(emu.caPem);
  tenant = emu.addTenant({ domain: 'contoso.onmicrosoft.com', displayName: 'Contoso' });
  app = tenant.addApp({ secret: SECRET });
  tenant.addUser({ userPrincipalName: 'alice@contoso.onmicrosoft.com', displayName: 'Alice Archer' });
  tenant.addUser({ userPrincipalName: 'bob@contoso.onmicrosoft.com', displayName: 'Bob Baker' });
  tenant.addUser({ userPrincipalName: 'carol@contoso.onmicrosoft.com', displayName: 'Carol Nodrive', drive: false });
  tenant.addSite({ name: 'finance', displayName: 'Finance', libraries: ['Documents', 'Archive'] });
  alice = tenant.driveOf('alice@contoso.onmicrosoft.com');
  alice.seed({
    'Docs/Report.txt': 'report v1',
    'Docs/Sub/deep.txt': 'deep',
    'Фото/café ☕.txt': 'unicode',
    'empty.txt': '',
    'big4.bin': { size: 4 * MiB, seed: 'big4' },
    'big12.bin': { size: 12 * MiB, seed: 'big12' },
    'Old/gone.txt': 'soon gone',
  });
  token = (await acquire({ clientSecret: SECRET })).token;
});

afterAll(async () => {
  await fetchE?.agent.close();
  await emu?.stop();
});

describe('identity platform with @azure/msal-node', () => {
  it('issues a token for client credentials with a secret, MSAL calling only the emulator (no instance discovery)', async () => {
    const { token: t, client } = await acquire({ clientSecret: SECRET });
    expect(client.requested.map((r) => r.split('?')[0])).toEqual([`GET ${emu.authorityHost}/${tenant.id}/v2.0/.well-known/openid-configuration`, `POST ${emu.authorityHost}/${tenant.id}/oauth2/v2.0/token`]);
    const claims = JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString()) as Claims;
    expect(claims).toMatchObject({ tid: tenant.id, appid: app.clientId, aud: emu.graphOrigin, idtyp: 'app' });
    expect(claims.roles).toEqual(app.roles);
    expect((await graph('/users', { token: t })).status).toBe(200);
    // The tenant's domain works as the authority's tenant too.
    const byDomain = new ConfidentialClientApplication({
      auth: { clientId: app.clientId, clientSecret: SECRET, authority: `${emu.authorityHost}/${tenant.domain}`, knownAuthorities: [new URL(emu.authorityHost).host] },
      system: { networkClient: new EmulatorNetworkClient(fetchE) },
    });
    const viaDomain = (await byDomain.acquireTokenByClientCredential({ scopes: [`${emu.graphOrigin}/.default`] }))!.accessToken;
    expect(JSON.parse(Buffer.from(viaDomain.split('.')[1]!, 'base64url').toString())).toMatchObject({ tid: tenant.id });
  });

  it('with cloudDiscoveryMetadata and authorityMetadata given, MSAL calls only the token endpoint', async () => {
    const discovery = await (await fetchE(`${emu.authorityHost}/common/discovery/instance?api-version=1.1&authorization_endpoint=${emu.authorityHost}/${tenant.id}/oauth2/v2.0/authorize`)).text();
    const openid = await (await fetchE(`${emu.authorityHost}/${tenant.id}/v2.0/.well-known/openid-configuration`)).text();
    const client = new EmulatorNetworkClient(fetchE);
    const cca = new ConfidentialClientApplication({
      auth: { clientId: app.clientId, clientSecret: SECRET, authority: `${emu.authorityHost}/${tenant.id}`, cloudDiscoveryMetadata: discovery, authorityMetadata: openid },
      system: { networkClient: client },
    });
    await cca.acquireTokenByClientCredential({ scopes: [`${emu.graphOrigin}/.default`] });
    expect(client.requested.map((r) => r.split('?')[0])).toEqual([`POST ${emu.authorityHost}/${tenant.id}/oauth2/v2.0/token`]);
  });

  it('MSAL with its own network client trusts the emulator through NODE_EXTRA_CA_CERTS (in a child process)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'graph-emulator-ca-'));
    try {
      const caFile = path.join(dir, 'ca.pem');
      fs.writeFileSync(caFile, emu.caPem);
      const script = `
        import { ConfidentialClientApplication } from '@azure/msal-node';
        const cca = new ConfidentialClientApplication({ auth: { clientId: process.env.CLIENT_ID, clientSecret: process.env.SECRET, authority: process.env.AUTHORITY, knownAuthorities: [new URL(process.env.AUTHORITY).host] } });
        const r = await cca.acquireTokenByClientCredential({ scopes: [process.env.SCOPE] });
        process.stdout.write(r.accessToken.split('.').length === 3 ? 'ok' : 'no token');`;
      const out = await new Promise<string>((resolve, reject) => {
        execFile(
          process.execPath,
          ['--input-type=module', '-e', script],
          { cwd: process.cwd(), env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile, CLIENT_ID: app.clientId, SECRET, AUTHORITY: `${emu.authorityHost}/${tenant.id}`, SCOPE: `${emu.graphOrigin}/.default` } },
          (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
        );
      });
      expect(out).toBe('ok');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a wrong secret fails with invalid_client and AADSTS7000215', async () => {
    const err = await acquire({ clientSecret: 'wrong' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServerError);
    expect((err as ServerError).errorCode).toBe('invalid_client');
    expect((err as ServerError).errorMessage).toContain('AADSTS7000215: Invalid client secret provided.');
  });

  it('an unknown tenant answers AADSTS90002 and MSAL cannot resolve the authority', async () => {
    const r = await fetchE(`${emu.authorityHost}/00000000-0000-0000-0000-000000000001/v2.0/.well-known/openid-configuration`);
    expect(r.status).toBe(400);
    const body = (await r.json()) as Claims;
    expect(body.error).toBe('invalid_tenant');
    expect(body.error_codes).toEqual([90002]);
    const client = new EmulatorNetworkClient(fetchE);
    const cca = new ConfidentialClientApplication({
      auth: { clientId: app.clientId, clientSecret: SECRET, authority: `${emu.authorityHost}/00000000-0000-0000-0000-000000000001`, knownAuthorities: [new URL(emu.authorityHost).host] },
      system: { networkClient: client },
    });
    await expect(cca.acquireTokenByClientCredential({ scopes: [`${emu.graphOrigin}/.default`] })).rejects.toThrow(/endpoints|openid/i);
    expect(client.requested).toHaveLength(1);
  });

  it('a certificate assertion works with SHA-256 (PS256) and SHA-1 (RS256) thumbprints; an unregistered certificate does not', async () => {
    const cert = await makeAppCertificate();
    const other = await makeAppCertificate('CN=not registered');
    const certApp = tenant.addApp({ certificates: [cert.certPem], roles: ['Files.Read.All'] });
    const t1 = await acquire({ clientCertificate: { thumbprintSha256: cert.thumbprintSha256, privateKey: cert.privateKeyPem } }, certApp);
    expect(JSON.parse(Buffer.from(t1.token.split('.')[1]!, 'base64url').toString())).toMatchObject({ appid: certApp.clientId, appidacr: '2', roles: ['Files.Read.All'] });
    const sha1 = { clientCertificate: { thumbprint: cert.thumbprintSha1, privateKey: cert.privateKeyPem } } as unknown as Parameters<typeof msalConfig>[3];
    await expect(acquire(sha1, certApp)).resolves.toMatchObject({ token: expect.any(String) });
    const err = await acquire({ clientCertificate: { thumbprintSha256: other.thumbprintSha256, privateKey: other.privateKeyPem } }, certApp).catch((e: unknown) => e);
    expect((err as ServerError).errorCode).toBe('invalid_client');
    expect((err as ServerError).errorMessage).toContain('AADSTS700027');
  });

  it('a scope without /.default or for another resource is refused', async () => {
    const post = (scope: string): Promise<Claims> =>
      fetchE(`${emu.authorityHost}/${tenant.domain}/oauth2/v2.0/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: app.clientId, client_secret: SECRET, scope }).toString(),
      }).then((r) => r.json() as Promise<Claims>);
    expect(await post('Files.Read.All')).toMatchObject({ error: 'invalid_scope', error_codes: [1002012] });
    expect(await post('https://example.invalid/.default')).toMatchObject({ error: 'invalid_resource', error_codes: [500011] });
    expect(await post('https://graph.microsoft.com/.default')).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String) });
  });
});

describe('Graph authorization', () => {
  it('refuses a missing, forged or expired token with 401 InvalidAuthenticationToken', async () => {
    const none = await graph('/users', { token: null });
    expect(none.status).toBe(401);
    expect(none.body.error?.code).toBe('InvalidAuthenticationToken');
    const [h, p] = token.split('.');
    expect((await graph('/users', { token: `${h}.${p}.AAAA` })).body.error?.code).toBe('InvalidAuthenticationToken');
    const spare = (await acquire({ clientSecret: SECRET })).token;
    emu.expireAccessTokens();
    const expired = await graph('/users', { token: spare });
    expect(expired.status).toBe(401);
    expect(expired.body.error?.message).toMatch(/expired/);
    token = (await acquire({ clientSecret: SECRET })).token;
  });

  it('answers 403 as Graph does when an application permission is missing, and logs which', async () => {
    const limited = tenant.addApp({ secret: SECRET, roles: ['Files.Read.All'] });
    const { token: t } = await acquire({ clientSecret: SECRET }, limited);
    const users = await graph('/users', { token: t });
    expect(users.status).toBe(403);
    expect(users.body.error?.code).toBe('Authorization_RequestDenied');
    const sites = await graph('/sites/getAllSites', { token: t });
    expect(sites.status).toBe(403);
    expect(sites.body.error?.code).toBe('accessDenied');
    const rec = emu.traffic.requests.find((r) => r.path.endsWith('/sites/getAllSites') && r.status === 403)!;
    expect(rec.note).toContain('Sites.Read.All');
    expect((await graph(`/users/${encodeURIComponent('alice@contoso.onmicrosoft.com')}/drive`, { token: t })).status).toBe(200);
    const none = tenant.addApp({ secret: SECRET, roles: [] });
    const { token: t0 } = await acquire({ clientSecret: SECRET }, none);
    expect((await graph(`/drives/${alice.id}/root`, { token: t0 })).body.error?.message).toBe('Either scp or roles claim need to be present in the token.');
  });

  it('answers /me with 400 for an app-only token', async () => {
    expect((await graph('/me/drive')).status).toBe(400);
  });
});

describe('users, drives and sites', () => {
  it('pages /users with $top and nextLink, honours $select', async () => {
    const { items, pages } = await allPages('/users?$top=2&$select=id,userPrincipalName');
    expect(pages).toBe(2);
    expect(items.map((u) => u.userPrincipalName)).toEqual(['alice@contoso.onmicrosoft.com', 'bob@contoso.onmicrosoft.com', 'carol@contoso.onmicrosoft.com']);
    expect(Object.keys(items[0]!).sort()).toEqual(['id', 'userPrincipalName']);
  });

  it('a user without a OneDrive answers 404 "mysite not found"; a user with one has a business drive', async () => {
    const none = await graph('/users/carol@contoso.onmicrosoft.com/drive');
    expect(none.status).toBe(404);
    expect(none.body.error).toMatchObject({ code: 'ResourceNotFound', message: "User's mysite not found." });
    const d = await graph(`/users/${tenant.user('alice@contoso.onmicrosoft.com').id}/drives`);
    expect(d.body.value).toHaveLength(1);
    expect(d.body.value![0]).toMatchObject({ id: alice.id, driveType: 'business' });
  });

  it('lists sites by search (no personal sites) and getAllSites (with them), and a site\'s libraries', async () => {
    const search = await graph('/sites?search=*');
    expect(search.body.value!.map((s) => s.displayName)).toEqual(['Contoso', 'Finance']);
    const all = await allPages('/sites/getAllSites');
    expect(all.items.filter((s) => s.isPersonalSite)).toHaveLength(2);
    const finance = search.body.value!.find((s) => s.displayName === 'Finance');
    const drives = await graph(`/sites/${finance!.id}/drives`);
    expect(drives.body.value!.map((d) => [d.name, d.driveType])).toEqual([
      ['Documents', 'documentLibrary'],
      ['Archive', 'documentLibrary'],
    ]);
  });
});

describe('delta', () => {
  let deltaLink = '';

  it('enumerates the whole drive in pages, parents first, with quickXorHash only and no path', async () => {
    const { items, deltaLink: link, pages } = await allPages(`/drives/${alice.id}/root/delta?$top=3`);
    deltaLink = link;
    expect(pages).toBe(4);
    const byId = new Map(items.map((i) => [i.id, i]));
    expect(items).toHaveLength(12);
    expect(items[0]).toMatchObject({ root: {}, name: 'root' });
    items.forEach((it, n) => {
      if (it.root) return;
      expect(it.parentReference!.path).toBeUndefined();
      expect(items.findIndex((x) => x.id === it.parentReference!.id)).toBeLessThan(n);
    });
    const cafe = items.find((i) => i.name === 'café ☕.txt')!;
    expect(cafe.file!.hashes).toEqual({ quickXorHash: quickXorHash(Buffer.from('unicode')) });
    expect(items.find((i) => i.name === 'empty.txt')).toMatchObject({ size: 0 });
    expect(items.find((i) => i.name === 'big12.bin')).toMatchObject({ size: 12 * MiB });
    expect(byId.size).toBe(12);
  });

  it('reports what changed: added, edited, renamed (folder only), moved, deleted (no name) with the parent chain', async () => {
    alice.addFile('Docs/new.txt', 'new');
    alice.editFile('Docs/Report.txt', 'report v2');
    alice.renamePath('Docs/Sub', 'Sub2');
    alice.movePath('Фото/café ☕.txt', 'Docs');
    const old = alice.mustPath('Old');
    const gone = alice.mustPath('Old/gone.txt');
    alice.deletePath('Old');
    const { items, deltaLink: next } = await allPages(deltaLink);
    deltaLink = next;
    const names = items.map((i) => i.name ?? `(deleted ${i.id})`);
    expect(new Set(names)).toEqual(new Set(['root', 'Docs', 'new.txt', 'Report.txt', 'Sub2', 'café ☕.txt', `(deleted ${old.id})`, `(deleted ${gone.id})`]));
    expect(items.find((i) => i.id === gone.id)).toMatchObject({ deleted: { state: 'deleted' }, file: {} });
    expect(items.find((i) => i.id === old.id)).toMatchObject({ deleted: { state: 'deleted' }, folder: {} });
    expect(names.indexOf('Docs')).toBeLessThan(names.indexOf('new.txt'));
    expect(items.find((i) => i.name === 'Report.txt')?.file?.hashes?.quickXorHash).toBe(quickXorHash(Buffer.from('report v2')));
    const again = await allPages(deltaLink);
    expect(again.items).toEqual([]);
  });

  it('answers the same page again through the same nextLink, and token=latest with only a deltaLink', async () => {
    const first = await graph(`/drives/${alice.id}/root/delta?$top=4`);
    const next = first.body['@odata.nextLink'] as string;
    const a = await graph(next);
    const b = await graph(next);
    expect(b.body.value!.map((i) => i.id)).toEqual(a.body.value!.map((i) => i.id));
    const latest = await graph(`/users/alice@contoso.onmicrosoft.com/drive/root/delta?token=latest`);
    expect(latest.body.value).toEqual([]);
    alice.addFile('after-latest.txt', 'x');
    const after = await allPages(latest.body['@odata.deltaLink'] as string);
    expect(after.items.map((i) => i.name)).toEqual(['root', 'after-latest.txt']);
  });

  it('an expired token answers 410 resyncRequired with a Location that enumerates again', async () => {
    alice.expireDeltaTokens();
    const r = await graph(deltaLink);
    expect(r.status).toBe(410);
    expect(r.body.error).toMatchObject({ code: 'resyncRequired', innerError: { code: 'resyncChangesApplyDifferences' } });
    const full = await allPages(r.headers.get('location')!);
    expect(full.items.filter((i) => i.deleted)).toEqual([]);
    expect(full.items.map((i) => i.name)).toContain('new.txt');
    expect(full.items.map((i) => i.name)).not.toContain('gone.txt');
  });
});

describe('content', () => {
  it('redirects /content to a pre-authenticated URL that serves ranges', async () => {
    const big = alice.mustPath('big12.bin');
    const r = await graph(`/drives/${alice.id}/items/${big.id}/content`);
    expect(r.status).toBe(302);
    const url = r.headers.get('location')!;
    expect(new URL(url).origin).toBe(emu.filesOrigin);
    const part = await fetchE(url, { headers: { range: 'bytes=100-1123' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-1123/${12 * MiB}`);
    const partBytes = Buffer.from(await part.arrayBuffer());
    const whole = Buffer.from(await (await fetchE(url)).arrayBuffer());
    expect(partBytes.equals(whole.subarray(100, 1124))).toBe(true);
    const snap = await alice.snapshot();
    expect(sha256(whole)).toBe((snap['/big12.bin'] as { sha256: string }).sha256);
    const tail = await fetchE(url, { headers: { range: 'bytes=-10' } });
    expect(Buffer.from(await tail.arrayBuffer()).equals(whole.subarray(whole.length - 10))).toBe(true);
    const beyond = await fetchE(url, { headers: { range: `bytes=${12 * MiB}-` } });
    expect(beyond.status).toBe(416);
    await beyond.body?.cancel();
    const downloads = emu.traffic.requests.filter((x) => x.host === 'files' && x.itemId === big.id);
    expect(downloads).toHaveLength(4);
    expect(downloads.every((x) => x.owner?.name === 'alice@contoso.onmicrosoft.com' && x.authorizationSent === undefined)).toBe(true);
  });

  it('fails a download on purpose, by status or by cutting the connection; a Range request resumes', async () => {
    const item = alice.mustPath('big4.bin');
    const item2 = await graph(`/drives/${alice.id}/items/${item.id}?$select=id,@microsoft.graph.downloadUrl`);
    const url = item2.body['@microsoft.graph.downloadUrl'] as string;
    emu.failDownload(alice, item, { status: 503, times: 1 });
    const failed = await fetchE(url);
    expect(failed.status).toBe(503);
    await failed.body?.cancel();
    emu.failDownload(alice, item, { afterBytes: MiB, times: 1 });
    const cut = await fetchE(url);
    const received: Buffer[] = [];
    await expect(
      (async () => {
        for await (const c of cut.body! as AsyncIterable<Uint8Array>) received.push(Buffer.from(c));
      })(),
    ).rejects.toThrow();
    const got = Buffer.concat(received);
    expect(got.length).toBeLessThanOrEqual(MiB);
    const rest = await fetchE(url, { headers: { range: `bytes=${got.length}-` } });
    expect(rest.status).toBe(206);
    const whole = Buffer.concat([got, Buffer.from(await rest.arrayBuffer())]);
    expect(sha256(whole)).toBe(((await alice.snapshot())['/big4.bin'] as { sha256: string }).sha256);
  });
});

describe('uploads and folders', () => {
  const bob = (): Drive => tenant.driveOf('bob@contoso.onmicrosoft.com');

  it('simple upload creates (201) then replaces (200); over the limit is refused', async () => {
    const path = `/users/bob@contoso.onmicrosoft.com/drive/root:/${encodeURIComponent('Notes ✓')}/${encodeURIComponent('é.txt')}:/content`;
    bob().mkdirp('Notes ✓');
    expect((await graph(path, { method: 'PUT', body: Buffer.from('one') })).status).toBe(201);
    const second = await graph(path, { method: 'PUT', body: Buffer.from('two!') });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ name: 'é.txt', size: 4 });
    expect((await graph(`/drives/${bob().id}/root:/five.bin:/content`, { method: 'PUT', body: Buffer.alloc(5 * MiB) })).status).toBe(201);
    emu.options.simpleUploadLimitBytes = 4 * MiB;
    try {
      expect((await graph(`/drives/${bob().id}/root:/too-big.bin:/content`, { method: 'PUT', body: Buffer.alloc(4 * MiB + 1) })).status).toBe(413);
    } finally {
      emu.options.simpleUploadLimitBytes = 250 * MiB;
    }
  });

  it('uploads a file through an upload session in 320 KiB multiples, keeping its modification time', async () => {
    const data = Buffer.alloc(5 * MiB + 123);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    const created = await graph(`/drives/${bob().id}/root:/Big/session.bin:/createUploadSession`, {
      method: 'POST',
      body: { item: { '@microsoft.graph.conflictBehavior': 'fail', fileSystemInfo: { lastModifiedDateTime: '2020-01-02T03:04:05Z' } } },
    });
    expect(created.status).toBe(404); // the parent folder does not exist
    bob().mkdirp('Big');
    const s = await graph(`/drives/${bob().id}/root:/Big/session.bin:/createUploadSession`, {
      method: 'POST',
      body: { item: { '@microsoft.graph.conflictBehavior': 'fail', fileSystemInfo: { lastModifiedDateTime: '2020-01-02T03:04:05Z' } } },
    });
    expect(s.status).toBe(200);
    const uploadUrl = s.body.uploadUrl!;
    expect(new URL(uploadUrl).origin).toBe(emu.filesOrigin);
    const put = (start: number, end: number, headers: Record<string, string> = {}): Promise<{ status: number; body: Body }> =>
      fetchE(uploadUrl, { method: 'PUT', headers: { 'content-range': `bytes ${start}-${end}/${data.length}`, ...headers }, body: data.subarray(start, end + 1) }).then(async (r) => ({ status: r.status, body: (await r.json()) as Body }));
    const chunk = 327_680 * 6;
    expect((await put(0, chunk - 1, { authorization: `Bearer ${token}` })).status).toBe(401);
    expect((await put(0, 1000)).status).toBe(400); // not a multiple of 320 KiB
    const first = await put(0, chunk - 1);
    expect(first).toMatchObject({ status: 202, body: { nextExpectedRanges: [`${chunk}-`] } });
    expect((await put(2 * chunk, 3 * chunk - 1)).status).toBe(416); // out of order
    expect((await put(0, chunk - 1)).status).toBe(416); // overlap
    expect((await put(chunk, 2 * chunk - 1)).status).toBe(202);
    const last = await put(2 * chunk, data.length - 1);
    expect(last.status).toBe(201);
    expect(last.body).toMatchObject({ name: 'session.bin', size: data.length, fileSystemInfo: { lastModifiedDateTime: '2020-01-02T03:04:05Z' } });
    const snap = await bob().snapshot();
    expect(snap['/Big/session.bin']).toEqual({ type: 'file', size: data.length, sha256: sha256(data), lastModified: '2020-01-02T03:04:05.000Z' });
    const dup = await graph(`/drives/${bob().id}/root:/Big/session.bin:/createUploadSession`, { method: 'POST', body: {} });
    expect(dup.status).toBe(409);
  });

  it('creates folders with conflictBehavior fail, rename and replace, and PATCHes fileSystemInfo', async () => {
    const make = (behavior?: string): Promise<{ status: number; body: Body }> =>
      graph(`/drives/${bob().id}/root/children`, { method: 'POST', body: { name: 'Restore-2024-05-01', folder: {}, ...(behavior ? { '@microsoft.graph.conflictBehavior': behavior } : {}) } });
    const a = await make();
    expect(a.status).toBe(201);
    expect((await make()).body.error?.code).toBe('nameAlreadyExists');
    expect((await make('rename')).body.name).toBe('Restore-2024-05-01 1');
    const replaced = await make('replace');
    expect(replaced.status).toBe(201);
    expect(replaced.body.id).not.toBe(a.body.id);
    const patched = await graph(`/drives/${bob().id}/items/${replaced.body.id}`, { method: 'PATCH', body: { fileSystemInfo: { lastModifiedDateTime: '2019-12-31T23:59:59Z' } } });
    expect(patched.body.fileSystemInfo?.lastModifiedDateTime).toBe('2019-12-31T23:59:59Z');
  });
});

describe('$batch', () => {
  it('runs up to 20 requests with dependsOn, answering each with its own status', async () => {
    const r = await graph('/$batch', {
      method: 'POST',
      body: {
        requests: [
          { id: '1', method: 'GET', url: '/users/alice@contoso.onmicrosoft.com/drive' },
          { id: '2', method: 'GET', url: `drives/${alice.id}/root:/nope.txt`, dependsOn: ['1'] },
          { id: '3', method: 'GET', url: '/users?$select=id', dependsOn: ['2'] },
          { id: '4', method: 'GET', url: `/drives/${alice.id}/root:/Docs/Report.txt:/content` },
        ],
      },
    });
    expect(r.status).toBe(200);
    const by = new Map((r.body.responses ?? []).map((x) => [x.id, x]));
    expect(by.get('1')).toMatchObject({ status: 200, body: { id: alice.id } });
    expect(by.get('2')).toMatchObject({ status: 404, body: { error: { code: 'itemNotFound' } } });
    expect(by.get('3')!.status).toBe(424);
    expect(by.get('4')!.status).toBe(302);
    const batch = emu.traffic.requests.find((b) => b.path.endsWith('/$batch'))!;
    expect(emu.traffic.requests.filter((x) => x.batchOf === batch.seq)).toHaveLength(3); // request 3 never ran
    const tooMany = await graph('/$batch', { method: 'POST', body: { requests: Array.from({ length: 21 }, (_, i) => ({ id: String(i), method: 'GET', url: '/users' })) } });
    expect(tooMany.status).toBe(400);
  });

  it('throttles a sub-request on its own with its Retry-After', async () => {
    emu.throttle({ count: 1, owner: 'bob@contoso.onmicrosoft.com', retryAfterSeconds: 2 });
    const r = await graph('/$batch', {
      method: 'POST',
      body: {
        requests: [
          { id: 'a', method: 'GET', url: '/users/alice@contoso.onmicrosoft.com/drive' },
          { id: 'b', method: 'GET', url: '/users/bob@contoso.onmicrosoft.com/drive' },
        ],
      },
    });
    const by = new Map((r.body.responses ?? []).map((x) => [x.id, x]));
    expect(by.get('a')!.status).toBe(200);
    expect(by.get('b')).toMatchObject({ status: 429, headers: { 'Retry-After': '2' }, body: { error: { code: 'TooManyRequests' } } });
  });
});

describe('throttling and concurrency', () => {
  it('answers the next N requests 429 with Retry-After and flags requests that came back too early', async () => {
    emu.traffic.reset();
    emu.throttle({ count: 2, tenantId: tenant.id, retryAfterSeconds: 1 });
    const first = await graph('/users');
    expect(first.status).toBe(429);
    expect(first.headers.get('retry-after')).toBe('1');
    expect(first.body.error).toMatchObject({ code: 'TooManyRequests', innerError: { code: '429' } });
    const impatient = await graph('/users');
    expect(impatient.status).toBe(429);
    // Honour the Retry-After, as a client must.
    await new Promise((r) => setTimeout(r, Number(impatient.headers.get('retry-after')) * 1000 + 20));
    expect((await graph('/users')).status).toBe(200);
    const [a, b, c] = emu.traffic.requests.filter((r) => r.path.endsWith('/users'));
    expect([a!.throttled, b!.throttled, c!.throttled]).toEqual([true, true, undefined]);
    expect([a!.beforeRetryAfter, b!.beforeRetryAfter, c!.beforeRetryAfter]).toEqual([undefined, true, undefined]);
    expect(emu.traffic.pendingThrottles()).toBe(0);
  });

  it('counts the peak of requests in flight per user and per tenant', async () => {
    emu.traffic.reset();
    const big = alice.mustPath('big12.bin');
    const url = emu.downloadUrl(alice, big);
    // Six downloads whose bodies nobody reads: all six stay in flight at once.
    const responses = await Promise.all(Array.from({ length: 6 }, () => fetchE(url)));
    expect(emu.traffic.peakConcurrency({ owner: 'alice@contoso.onmicrosoft.com' })).toBe(6);
    expect(emu.traffic.peakConcurrency({ tenantId: tenant.id })).toBe(6);
    expect(emu.traffic.peakConcurrency({ owner: 'bob@contoso.onmicrosoft.com' })).toBe(0);
    await Promise.all(responses.map((r) => r.body!.cancel()));
    await emu.traffic.waitForRequest(() => emu.traffic.requests.filter((r) => r.host === 'files').every((r) => r.end !== undefined));
    const onePerUser = await Promise.all([graph(`/drives/${alice.id}`), graph(`/users/bob@contoso.onmicrosoft.com/drive`)]);
    expect(onePerUser.map((r) => r.status)).toEqual([200, 200]);
    expect(emu.traffic.requests.filter((r) => r.host === 'graph').map((r) => r.owner?.name).sort()).toEqual(['alice@contoso.onmicrosoft.com', 'bob@contoso.onmicrosoft.com']);
  });
});

describe('configuration', () => {
  it('computes QuickXorHash as the documented algorithm, however the bytes are split', () => {
    const reference = (data: Uint8Array): string => {
      // The bitwise description: byte i XORed in at bit (i * 11) mod 160, then the length.
      const block = new Uint8Array(20);
      data.forEach((v, i) => {
        for (let b = 0; b < 8; b++) if ((v >> b) & 1) block[Math.floor(((i * 11 + b) % 160) / 8)]! ^= 1 << ((i * 11 + b) % 160) % 8;
      });
      const out = Buffer.from(block);
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(data.length));
      for (let k = 0; k < 8; k++) out[12 + k]! ^= len[k]!;
      return out.toString('base64');
    };
    expect([...Buffer.from(quickXorHash(Buffer.from('hello world')), 'base64')]).toEqual([104, 40, 3, 27, 216, 240, 6, 16, 220, 225, 13, 114, 107, 3, 25, 0, 0, 0, 0, 0]);
    for (const n of [0, 1, 159, 160, 161, 5000]) {
      const data = Buffer.alloc(n);
      for (let i = 0; i < n; i++) data[i] = (i * 131 + 7) & 0xff;
      const h = new QuickXorHash();
      for (let at = 0; at < n; at += 97) h.update(data.subarray(at, Math.min(n, at + 97)));
      expect(h.digestBase64()).toBe(reference(data));
    }
  });

  it('serves Graph under another base path and can report SHA-256 hashes', async () => {
    const other = await GraphEmulator.start({ graphBasePath: '/graph/v1.0', hashes: ['quickXorHash', 'sha256Hash'] });
    const f = trustingFetch(other.caPem);
    try {
      const t = other.addTenant({ domain: 'fabrikam.onmicrosoft.com' });
      const a = t.addApp({ secret: SECRET });
      const d = t.driveOf(t.addUser({ userPrincipalName: 'dan@fabrikam.onmicrosoft.com' }).id);
      d.addFile('x.txt', 'hello');
      const cca = new ConfidentialClientApplication(msalConfig(other, t, a, { clientSecret: SECRET }, new EmulatorNetworkClient(f)));
      const tok = (await cca.acquireTokenByClientCredential({ scopes: [`${other.graphOrigin}/.default`] }))!.accessToken;
      expect(other.graphBaseUrl.endsWith('/graph/v1.0')).toBe(true);
      const r = await f(`${other.graphBaseUrl}/drives/${d.id}/root:/x.txt`, { headers: { authorization: `Bearer ${tok}` } });
      const item = (await r.json()) as Item;
      expect(item.file!.hashes).toEqual({ quickXorHash: quickXorHash(Buffer.from('hello')), sha256Hash: sha256(Buffer.from('hello')).toUpperCase() });
      expect((await f(`${other.graphOrigin}/v1.0/users`, { headers: { authorization: `Bearer ${tok}` } })).status).toBe(404);
    } finally {
      await f.agent.close();
      await other.stop();
    }
  });
});
