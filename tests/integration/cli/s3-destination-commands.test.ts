import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Destination } from '../../../common/api/index.js';
import { defaultHandlers } from '../../../node-service/agent/node-service.js';
import { startCephGateway, type CephGateway } from '../../support/ceph-rgw.js';
import { vplus, vplusOk } from '../../support/processes.js';
import { enrollTestNode, type TestNode } from '../../support/test-node.js';
import { ADMIN, makeTempDir, setupAdmin, startTestServer, type TestServer } from '../../support/test-server.js';

/**
 * The built `vplus` adding an S3 destination on a real server, node and Ceph gateway: the
 * secret key from a file or stdin, a wrong one refused with the node's words, list and show
 * with the bucket, key rotation. Run `npm run build:ts` first.
 */
describe('vplus destination add --s3 against a real server and gateway', () => {
  let gw: CephGateway;
  let t: TestServer;
  let node: TestNode;
  let dir: string;
  let env: Record<string, string>;
  const bucket = `cli-s3-${randomBytes(4).toString('hex')}`;

  const run = async (args: string[], stdin?: string): Promise<{ code: number | null; output: string }> => {
    const p = vplus(args, env);
    p.child.stdin!.end(stdin);
    const code = await p.exited;
    return { code, output: p.output() };
  };

  beforeAll(async () => {
    gw = await startCephGateway();
    await gw.createBucket(bucket);
    t = await startTestServer();
    const admin = await setupAdmin(t.api);
    node = await enrollTestNode(t.api, admin, { name: 'store-1', handlers: defaultHandlers({ name: 'store-1' }), serverUrl: t.server.url, fingerprint: t.server.fingerprint });
    dir = makeTempDir('cli-s3');
    env = { VPLUS_CONFIG: path.join(dir, 'cli.json'), VPLUS_SERVER: '', VPLUS_FINGERPRINT: '', VPLUS_TOKEN: '' };
    await vplusOk(['login', '--server', t.server.url, '--user', ADMIN.username, '--password-stdin', '--fingerprint', t.server.fingerprint], env, `${ADMIN.password}\n`);
    fs.writeFileSync(path.join(dir, 'secret'), `${gw.secretAccessKey}\n`, { mode: 0o600 });
    fs.writeFileSync(path.join(dir, 'wrong'), 'not-the-secret\n', { mode: 0o600 });
  }, 120_000);
  afterAll(async () => {
    await node?.stop();
    await t?.destroy();
    await gw?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const url = () => `${gw.endpoint}/${bucket}/office`;

  it('a wrong secret key is refused with what to fix, and nothing is added', async () => {
    const refused = await run(['destination', 'add', 'offsite', '--node', 'store-1', '--s3', url(), '--access-key', gw.accessKeyId, '--secret-key-file', path.join(dir, 'wrong'), '--path-style']);
    expect(refused.code).toBe(1);
    expect(refused.output).toMatch(/error: The secret key does not match the access key \S+ at 127\.0\.0\.1:\d+; check the secret key/);
    expect(JSON.parse(await vplusOk(['destination', 'list', '--json'], env))).toEqual([]);
  });

  it('adds the bucket with the secret key from a file, and list and show the place', async () => {
    const out = await vplusOk(['destination', 'add', 'offsite', '--node', 'store-1', '--s3', url(), '--access-key', gw.accessKeyId, '--secret-key-file', path.join(dir, 'secret'), '--path-style'], env);
    expect(out).toContain(`Checking ${url()} from node store-1…`);
    expect(out).toContain(`Added destination "offsite" on node store-1 at s3://${bucket}/office at ${gw.endpoint} (not encrypted).`);
    expect(out).not.toContain(gw.secretAccessKey);
    const list = JSON.parse(await vplusOk(['destination', 'list', '--json'], env)) as Destination[];
    expect(list).toEqual([expect.objectContaining({ name: 'offsite', kind: 's3', s3: expect.objectContaining({ bucket, prefix: 'office', endpoint: gw.endpoint, forcePathStyle: true }) })]);
    expect(JSON.stringify(list)).not.toContain(gw.secretAccessKey);
    const table = await vplusOk(['destination', 'list'], env);
    expect(table).toContain(`s3://${bucket}/office at ${gw.endpoint}`);
    const show = await vplusOk(['destination', 'show', 'offsite'], env);
    expect(show).toMatch(new RegExp(`Bucket:?\\s+${bucket}`));
    expect(show).toMatch(/Object lock:?\s+no/);
    expect(show).toMatch(/Addressing:?\s+path-style/);
  });

  it('rotates the keys with the secret from stdin; a wrong one keeps the old keys', async () => {
    const wrong = await run(['destination', 's3-credentials', 'offsite', '--access-key', gw.accessKeyId, '--secret-key-file', '-'], 'nope-nope\n');
    expect(wrong.code).toBe(1);
    expect(wrong.output).toMatch(/secret key does not match .*\(the old keys are kept\)/);
    const ok = await vplusOk(['destination', 's3-credentials', 'offsite', '--access-key', gw.accessKeyId, '--secret-key-file', '-'], env, `${gw.secretAccessKey}\n`);
    expect(ok).toContain(`Destination "offsite" now uses access key ${gw.accessKeyId}`);
  });
});
