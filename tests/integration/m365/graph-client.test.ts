/**
 * The cloud agent's Graph layer (node-service/cloud/graph) against the Graph emulator: sign-in
 * errors in words, Test connection naming a missing permission, users and sites, drive delta
 * with paging and an expired token, throttling behind one fence per tenant, per-user
 * concurrency, and downloads that resume with Range and match Graph's QuickXorHash.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudError } from '../../../node-service/cloud/graph/cloud-errors.js';
import { testConnection } from '../../../node-service/cloud/graph/connection-test.js';
import { listSites, listUsers } from '../../../node-service/cloud/graph/directory.js';
import { downloadItem } from '../../../node-service/cloud/graph/download.js';
import { driveDelta, type DeltaEvent, type DriveItem } from '../../../node-service/cloud/graph/drive-items.js';
import { QuickXorHash } from '../../../node-service/cloud/graph/quick-xor-hash.js';
import type { TenantSettings } from '../../../node-service/cloud/graph/tenant-settings.js';
import { TenantSession } from '../../../node-service/cloud/graph/tenant-session.js';
import { type AppRegistration, type Drive, GraphEmulator, quickXorHash, type Tenant } from '../../support/graph-emulator/index.js';

const MiB = 1024 * 1024;
let emu: GraphEmulator;
let tenant: Tenant;
let app: AppRegistration;
let alice: Drive;
const sessions: TenantSession[] = [];

function settings(over: Partial<TenantSettings> = {}, a: AppRegistration = app): TenantSettings {
  return { tenantId: tenant.id, clientId: a.clientId, credential: { kind: 'secret', secret: 'right secret' }, authorityHost: emu.authorityHost, graphUrl: emu.graphBaseUrl, caPem: emu.caPem, ...over };
}

function session(over: Partial<TenantSettings> = {}, a?: AppRegistration, options?: ConstructorParameters<typeof TenantSession>[1]): TenantSession {
  const s = new TenantSession(settings(over, a), { backoffMs: 50, ...options });
  sessions.push(s);
  return s;
}

async function collect(gen: AsyncGenerator<DeltaEvent>): Promise<{ items: DriveItem[]; resyncs: number; deltaLink: string }> {
  const items: DriveItem[] = [];
  let resyncs = 0;
  let deltaLink = '';
  for await (const e of gen) {
    if (e.kind === 'items') items.push(...e.items);
    else if (e.kind === 'resync') resyncs++;
    else deltaLink = e.deltaLink;
  }
  return { items, resyncs, deltaLink };
}

beforeAll(async () => {
  emu = await GraphEmulator.start({ deltaPageSize: 3 });
  tenant = emu.addTenant({ domain: 'contoso.onmicrosoft.com' });
  app = tenant.addApp({ secret: 'right secret' });
  tenant.addUser({ userPrincipalName: 'alice@contoso.onmicrosoft.com', displayName: 'Alice' });
  tenant.addUser({ userPrincipalName: 'carol@contoso.onmicrosoft.com', displayName: 'Carol', drive: false });
  tenant.addSite({ name: 'finance', displayName: 'Finance', libraries: ['Documents', 'Archive'] });
  alice = tenant.driveOf('alice@contoso.onmicrosoft.com');
  alice.seed({ 'Docs/a.txt': 'a', 'Docs/b.txt': 'b', 'Docs/Sub/': null, 'Фото/café ☕.txt': 'unicode', 'empty.txt': '', 'big.bin': { size: 5 * MiB, seed: 'big' } });
});

afterAll(async () => {
  for (const s of sessions) await s.close();
  await emu?.stop();
});

describe('sign-in and Test connection', () => {
  it('a wrong secret fails saying which secret to use', async () => {
    const s = session({ credential: { kind: 'secret', secret: 'wrong' } });
    const err = await s.tokens.token().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloudError);
    expect((err as CloudError).message).toMatch(/client secret is wrong/);
    expect((err as CloudError).detail).toMatch(/AADSTS7000215/);
  });

  it('an unknown tenant and an unknown app are named', async () => {
    const t = await session({ tenantId: 'nosuch.onmicrosoft.com' }).tokens.token().catch((e: unknown) => e);
    expect((t as CloudError).message).toMatch(/tenant nosuch\.onmicrosoft\.com was not found/);
    const a = await session({ clientId: '00000000-0000-0000-0000-00000000beef' }).tokens.token().catch((e: unknown) => e);
    expect((a as CloudError).message).toMatch(/no application 00000000-0000-0000-0000-00000000beef/);
  });

  it('an untrusted TLS certificate says to add the proxy CA', async () => {
    const err = await session({ caPem: null }).tokens.token().catch((e: unknown) => e);
    expect((err as CloudError).code).toBe('M365_UNREACHABLE');
    expect((err as CloudError).message).toMatch(/not trusted.*CA/);
  });

  it('names the missing permission', async () => {
    const limited = tenant.addApp({ secret: 'right secret', roles: ['User.Read.All', 'Files.Read.All'] });
    const s = session({}, limited);
    const result = await testConnection(s.graph, s.tokens);
    expect(result.ok).toBe(false);
    expect(result.checks.filter((c) => !c.ok).map((c) => c.permission)).toEqual(['Sites.Read.All']);
    expect(result.message).toMatch(/Sites\.Read\.All is missing/);
    const all = session();
    const full = await testConnection(all.graph, all.tokens);
    expect(full).toMatchObject({ ok: true });
  });
});

describe('inventory', () => {
  it('lists users with their OneDrive (none is not an error) and sites with libraries', async () => {
    const s = session();
    const users = await listUsers(s.graph);
    expect(users.map((u) => [u.userPrincipalName, u.driveId !== null])).toEqual(
      expect.arrayContaining([
        ['alice@contoso.onmicrosoft.com', true],
        ['carol@contoso.onmicrosoft.com', false],
      ]),
    );
    const sites = await listSites(s.graph);
    expect(sites.find((x) => x.name === 'finance')?.libraries.map((l) => l.name).sort()).toEqual(['Archive', 'Documents']);
  });
});

describe('drive delta', () => {
  it('enumerates everything over several pages, then only the changes, and restarts after an expired token', async () => {
    const s = session();
    const drivePath = `/drives/${alice.id}`;
    const full = await collect(driveDelta(s.graph, drivePath, null, { what: 'delta', owner: 'alice' }));
    const names = full.items.filter((i) => !i.root).map((i) => i.name);
    expect(names).toEqual(expect.arrayContaining(['Docs', 'a.txt', 'b.txt', 'Sub', 'Фото', 'café ☕.txt', 'empty.txt', 'big.bin']));
    expect(full.resyncs).toBe(0);

    alice.editFile('Docs/a.txt', 'a2');
    alice.deletePath('Docs/b.txt');
    const inc = await collect(driveDelta(s.graph, drivePath, full.deltaLink, { what: 'delta', owner: 'alice' }));
    const changed = inc.items.filter((i) => !i.folder && !i.root);
    expect(changed).toHaveLength(2);
    expect(changed.find((i) => i.id === alice.mustPath('Docs/a.txt').id)?.deleted).toBeUndefined();
    expect(changed.filter((i) => i.deleted).map((i) => i.id)).toEqual([full.items.find((i) => i.name === 'b.txt')?.id]);

    alice.expireDeltaTokens();
    const resync = await collect(driveDelta(s.graph, drivePath, inc.deltaLink, { what: 'delta', owner: 'alice' }));
    expect(resync.resyncs).toBe(1);
    expect(resync.items.some((i) => i.name === 'big.bin')).toBe(true);
  });
});

describe('throttling, concurrency and downloads', () => {
  it('throttled requests wait behind one fence for the tenant and complete', async () => {
    const waits: number[] = [];
    const s = session({}, app, { onThrottled: (t) => waits.push(t.waitMs) });
    emu.traffic.reset();
    emu.throttle({ count: 3, tenantId: tenant.id, retryAfterSeconds: 1 });
    const users = await Promise.all([listUsers(s.graph), listSites(s.graph)]);
    expect(users[0].length).toBeGreaterThan(0);
    expect(waits.length).toBeGreaterThanOrEqual(3);
    expect(emu.traffic.requests.filter((r) => r.throttled).length).toBe(3);
    // Only a request already on its way when a 429 came back may arrive early: after a fence one request goes first.
    expect(emu.traffic.requests.filter((r) => r.beforeRetryAfter).length).toBeLessThanOrEqual(1);
  });

  it('keeps at most 4 requests per user in flight', async () => {
    const s = session();
    emu.traffic.reset();
    const files = ['Docs/a.txt', 'Фото/café ☕.txt', 'empty.txt', 'big.bin'];
    await Promise.all(
      [...files, ...files, ...files].map((p) =>
        downloadItem(s.graph, `/drives/${alice.id}/items/${alice.mustPath(p).id}/content`, { what: p, owner: alice.id }, () => undefined),
      ),
    );
    const peak = emu.traffic.peakConcurrency({ owner: 'alice@contoso.onmicrosoft.com' });
    expect(peak).toBeGreaterThan(1);
    expect(peak).toBeLessThanOrEqual(4);
    expect(emu.traffic.requests.filter((r) => r.host === 'files' && r.authorizationSent)).toEqual([]);
  });

  it('a download cut mid-file resumes with Range and matches Graph’s QuickXorHash', async () => {
    const s = session();
    const item = alice.mustPath('big.bin');
    emu.failDownload(alice, item, { afterBytes: 2 * MiB, times: 1 });
    const sha = createHash('sha256');
    const result = await downloadItem(s.graph, `/drives/${alice.id}/items/${item.id}/content`, { what: 'big.bin', owner: alice.id }, (c) => void sha.update(c));
    expect(result.bytes).toBe(5 * MiB);
    const meta = await s.graph.json<DriveItem>(`/drives/${alice.id}/items/${item.id}`, { what: 'stat' });
    expect(result.quickXorHash).toBe(meta.file?.hashes?.quickXorHash);
    const entry = (await alice.snapshot())['/big.bin'];
    expect(entry?.type === 'file' && entry.sha256).toBe(sha.digest('hex'));
    const resumed = emu.traffic.requests.filter((r) => r.host === 'files' && r.itemId === item.id && r.status === 206);
    expect(resumed.map((r) => r.bytesSent)).toEqual([3 * MiB]);
  });

  it('a download that keeps failing names the file', async () => {
    const s = session();
    const item = alice.mustPath('Docs/a.txt');
    emu.failDownload(alice, item, { status: 500 });
    const err = await downloadItem(s.graph, `/drives/${alice.id}/items/${item.id}/content`, { what: 'download Docs/a.txt', owner: alice.id }, () => undefined).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/download Docs\/a\.txt/);
  });
});

describe('QuickXorHash', () => {
  it('agrees with the emulator’s over odd lengths and split updates', () => {
    for (const n of [0, 1, 19, 20, 159, 160, 161, 1000, 65_537]) {
      const data = Buffer.alloc(n);
      for (let i = 0; i < n; i++) data[i] = (i * 131 + 7) & 0xff;
      const h = new QuickXorHash();
      h.update(data.subarray(0, Math.floor(n / 3))).update(data.subarray(Math.floor(n / 3)));
      expect(h.digestBase64()).toBe(quickXorHash(data));
    }
  });
});
