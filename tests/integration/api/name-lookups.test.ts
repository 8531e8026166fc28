import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Destination } from '../../../common/api/destinations.js';
import type { Policy } from '../../../common/api/policies.js';
import type { User } from '../../../common/api/users.js';
import type { Vm } from '../../../common/api/hypervisors.js';
import { Catalog } from '../../../electron/server/db/catalog.js';
import { defaultHandlers } from '../../../node-service/agent/node-service.js';
import { enrollTestNode, type TestNode } from '../../support/test-node.js';
import { createUser, makeTempDir, setupAdmin, startTestServer, type TestServer } from '../../support/test-server.js';

/**
 * Things addressed by name in a URL (users, destinations, policies, VMs) resolve to the row of
 * that name as common/names.ts defines it (case, accents and surrounding spaces do not count)
 * and never to another row: not one the catalog's collation merely takes as equal ("cœur" for
 * "coeur"), not one whose id looks like the name, not one of several VMs picked at random.
 */
describe('lookups by name', () => {
  let t: TestServer;
  let admin: string;
  let node: TestNode;
  const as = <T>(method: string, p: string, body?: unknown) => t.api.request<T>(method, p, body, { token: admin });
  const url = (name: string): string => encodeURIComponent(name);

  beforeAll(async () => {
    t = await startTestServer();
    admin = await setupAdmin(t.api);
    node = await enrollTestNode(t.api, admin, { name: 'store', handlers: defaultHandlers(), serverUrl: t.server.url, fingerprint: t.server.fingerprint });
  });
  afterAll(async () => {
    await node?.stop();
    await t?.destroy();
  });

  it('users: a name the collation only resembles is not the user, and a name is never read as someone else’s id', async () => {
    await createUser(t.api, admin, 'coeur', 'viewer');
    const users = (await as<User[]>('GET', '/api/users')).body;
    const coeur = users.find((u) => u.username === 'coeur')!;
    // MariaDB's utf8mb4_unicode_ci takes "œ" for "oe"; it is another name.
    expect((await as('PATCH', `/api/users/${url('cœur')}`, { role: 'operator' })).status).toBe(404);
    expect((await as('DELETE', `/api/users/${url('cœur')}`)).status).toBe(404);
    // Another spelling of the same name is the same user.
    const same = await as<User>('PATCH', `/api/users/${url('COEUR ')}`, { role: 'operator' });
    expect(same.status, same.text).toBe(200);
    expect(same.body).toMatchObject({ id: coeur.id, username: 'coeur', role: 'operator' });
    // "cœur" is too close to coexist with "coeur": refused as existing, naming the field.
    const twin = await as<{ field: string; message: string }>('POST', '/api/users', { username: 'cœur', password: 'some-password-1', role: 'viewer' });
    expect(twin.status, twin.text).toBe(409);
    expect(twin.body).toMatchObject({ field: 'username', message: expect.stringMatching(/already exists/) });
    expect((await as<User[]>('GET', '/api/users')).body.find((u) => u.id === coeur.id)?.role).toBe('operator');
  });

  it('destinations: one per name whatever the spelling; a look-alike name deletes nothing', async () => {
    const dir = makeTempDir('names');
    const created = await as<Destination>('POST', '/api/destinations', { name: 'nas', node: 'store', path: `${dir}/nas` });
    expect(created.status, created.text).toBe(201);
    for (const name of ['NAS', 'Nás']) {
      const dup = await as<{ field: string; message: string }>('POST', '/api/destinations', { name, node: 'store', path: `${dir}/other` });
      expect(dup.status, `${name}: ${dup.text}`).toBe(409);
      expect(dup.body).toMatchObject({ field: 'name', message: 'a destination named "nas" already exists' });
    }
    expect((await as<Destination>('POST', '/api/destinations', { name: 'coeur', node: 'store', path: `${dir}/coeur` })).status).toBe(201);
    expect((await as<Destination>('POST', '/api/destinations', { name: 'sauvegarde-été', node: 'store', path: `${dir}/ete` })).status).toBe(201);
    expect((await as<Destination>('GET', `/api/destinations/${url('SAUVEGARDE-ETE')}`)).body.name).toBe('sauvegarde-été');
    // "cœur" is not "coeur": nothing is deleted.
    expect((await as('DELETE', `/api/destinations/${url('cœur')}`)).status).toBe(404);
    // Renaming to another spelling of its own name is fine; to another destination's name is not.
    expect((await as<Destination>('PATCH', '/api/destinations/coeur', { name: 'Coeur' })).body.name).toBe('Coeur');
    const taken = await as<{ field: string }>('PATCH', '/api/destinations/Coeur', { name: 'NAS' });
    expect(taken.status).toBe(409);
    expect(taken.body.field).toBe('name');
    expect((await as<Destination[]>('GET', '/api/destinations')).body.map((d) => d.name).sort()).toEqual(['Coeur', 'nas', 'sauvegarde-été']);
    // Names of digits only would be read as ids.
    const digits = await as<{ field: string }>('POST', '/api/destinations', { name: '1', node: 'store', path: `${dir}/one` });
    expect(digits.status).toBe(400);
    expect(digits.body.field).toBe('name');
  });

  it('policies: a trailing space or another case is the same policy; renaming to a case variant of itself is fine', async () => {
    const created = await as<Policy>('POST', '/api/policies', { name: 'Nightly', kind: 'snapshot', retention: { keepLast: 3 } });
    expect(created.status, created.text).toBe(201);
    const dup = await as<{ field: string; message: string }>('POST', '/api/policies', { name: 'nightly ', kind: 'snapshot', retention: { keepLast: 3 } });
    expect(dup.status).toBe(409);
    expect(dup.body).toMatchObject({ field: 'name', message: 'there is already a policy "Nightly"' });
    const renamed = await as<Policy>('PATCH', '/api/policies/nightly', { name: 'NIGHTLY' });
    expect(renamed.status, renamed.text).toBe(200);
    expect(renamed.body).toMatchObject({ id: created.body.id, name: 'NIGHTLY' });
    expect((await as('GET', `/api/policies/${url('nïghtly')}`)).status).toBe(200);
    expect((await as('GET', `/api/policies/${url('nightly2')}`)).status).toBe(404);
  });

  it('VMs: the exact name wins over a case variant on another host, and an ambiguous name picks none', async () => {
    const catalog = new Catalog({ mode: 'managed', pool: { socketPath: path.join(t.dataDir, 'mariadb', 'run', 'mysqld.sock'), user: os.userInfo().username, database: 'vplus' } });
    try {
      const nodeId = (await catalog.query<{ id: number }>("SELECT id FROM nodes WHERE name = 'store'"))[0]!.id;
      const vm = async (hv: number, name: string) => catalog.execute("INSERT INTO vms (hypervisor_id, uuid, name, state, disks, excluded_disks) VALUES (?, ?, ?, 'running', '[]', '[]')", [hv, randomUUID(), name]);
      const hv1 = (await catalog.execute("INSERT INTO hypervisors (name, node_id, uri, status) VALUES ('kvm-a', ?, 'qemu:///system', 'ok')", [nodeId])).insertId;
      const hv2 = (await catalog.execute("INSERT INTO hypervisors (name, node_id, uri, status) VALUES ('kvm-b', ?, 'qemu:///system', 'ok')", [nodeId])).insertId;
      await vm(hv1, 'web');
      await vm(hv2, 'Web');
      await vm(hv1, 'db');
      await vm(hv2, 'DB');
      await vm(hv1, 'coeur-vm');
    } finally {
      await catalog.close();
    }
    const get = (ref: string) => as<Vm & { message?: string }>('GET', `/api/vms/${url(ref)}`);
    expect((await get('web')).body).toMatchObject({ name: 'web', hypervisor: 'kvm-a' });
    expect((await get('Web')).body).toMatchObject({ name: 'Web', hypervisor: 'kvm-b' });
    const ambiguous = await get('WEB');
    expect(ambiguous.status).toBe(409);
    expect(ambiguous.body.message).toMatch(/2 VMs are named "WEB".*use the UUID/);
    expect((await get('cœur-vm')).status).toBe(404);
    expect((await get('COEUR-VM ')).body.name).toBe('coeur-vm');
  });
});
