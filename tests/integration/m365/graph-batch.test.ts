/**
 * JSON batching (node-service/cloud/graph/batch.ts) against the Graph emulator: 25 PATCHes go
 * in two $batch calls, a request the batch answers 429 is sent again alone (behind the
 * tenant's fence) and succeeds, and one that fails for good is that request's error only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendBatched, type BatchItem } from '../../../node-service/cloud/graph/batch.js';
import { TenantSession } from '../../../node-service/cloud/graph/tenant-session.js';
import { GraphEmulator, type Drive, type Tenant } from '../../support/graph-emulator/index.js';

const UPN = 'alice@contoso.onmicrosoft.com';

describe('Graph JSON batching', () => {
  let emu: GraphEmulator;
  let tenant: Tenant;
  let alice: Drive;
  let session: TenantSession;

  beforeAll(async () => {
    emu = await GraphEmulator.start();
    tenant = emu.addTenant({ domain: 'contoso.onmicrosoft.com' });
    const app = tenant.addApp({ secret: 'batch secret' });
    tenant.addUser({ userPrincipalName: UPN });
    alice = tenant.driveOf(UPN);
    const files: Record<string, string> = {};
    for (let i = 0; i < 25; i++) files[`f/${String(i).padStart(2, '0')}.txt`] = `file ${i}`;
    alice.seed(files);
    session = new TenantSession(
      { tenantId: tenant.id, clientId: app.clientId, credential: { kind: 'secret', secret: 'batch secret' }, authorityHost: emu.authorityHost, graphUrl: emu.graphBaseUrl, caPem: emu.caPem },
      { backoffMs: 50 },
    );
  });

  afterAll(async () => {
    await session?.close();
    await emu?.stop();
  });

  const patchOf = (path: string, at: string): BatchItem => ({
    method: 'PATCH',
    url: `/drives/${alice.id}/items/${alice.mustPath(path).id}`,
    body: { fileSystemInfo: { lastModifiedDateTime: at } },
    what: `set the times of ${path}`,
  });

  it('sends 25 changes in two calls, each answered on its own', async () => {
    emu.traffic.reset();
    const at = '2021-03-04T05:06:07.000Z';
    const items = Array.from({ length: 25 }, (_, i) => patchOf(`/f/${String(i).padStart(2, '0')}.txt`, at));
    const outcomes = await sendBatched(session.graph, items, { what: 'set the times of 25 files', owner: UPN });
    expect(outcomes.map((o) => o.ok)).toEqual(new Array(25).fill(true));
    const calls = emu.traffic.requests.filter((r) => r.host === 'graph' && r.batchOf === undefined);
    expect(calls.map((r) => `${r.method} ${r.path.replace(/^.*\/v1\.0/, '')}`)).toEqual(['POST /$batch', 'POST /$batch']);
    expect(emu.traffic.requests.filter((r) => r.batchOf !== undefined && r.method === 'PATCH')).toHaveLength(25);
    const state = await alice.snapshot();
    for (let i = 0; i < 25; i++) expect(state[`/f/${String(i).padStart(2, '0')}.txt`]).toMatchObject({ lastModified: at });
  });

  it('sends a throttled request again alone, and keeps a failed one to itself', async () => {
    emu.traffic.reset();
    const at = '2022-01-01T00:00:00.000Z';
    emu.throttle({ count: 2, tenantId: tenant.id, retryAfterSeconds: 1, match: (r) => r.batchOf !== undefined });
    const items = [patchOf('/f/00.txt', at), patchOf('/f/01.txt', at), { ...patchOf('/f/02.txt', at), url: `/drives/${alice.id}/items/does-not-exist` }, patchOf('/f/03.txt', at)];
    const outcomes = await sendBatched(session.graph, items, { what: 'set the times', owner: UPN });
    expect(outcomes.map((o) => o.ok)).toEqual([true, true, false, true]);
    const failed = outcomes[2]!;
    expect(failed.ok === false && failed.error.code).toBe('M365_NOT_FOUND');
    expect(failed.ok === false && failed.error.message).toMatch(/^set the times of \/f\/02\.txt: not found/);
    // The two sub-requests throttled inside the batch went again on their own.
    const alone = emu.traffic.requests.filter((r) => r.batchOf === undefined && r.method === 'PATCH');
    expect(alone).toHaveLength(2);
    expect(alone.every((r) => r.status === 200)).toBe(true);
    const state = await alice.snapshot();
    for (const p of ['/f/00.txt', '/f/01.txt', '/f/03.txt']) expect(state[p]).toMatchObject({ lastModified: at });
  });
});
