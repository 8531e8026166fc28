/**
 * The S3 destination check against a real gateway (Ceph RGW): each way a destination can be
 * wrong gives its own code and a sentence that says what to fix.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ListObjectVersionsCommand, ListObjectsV2Command, PutBucketPolicyCommand, PutObjectCommand, PutObjectLockConfigurationCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { S3Repository } from '../../../common/s3-location.js';
import { Repository } from '../../../node-service/repository/repository.js';
import { checkS3Destination, S3CheckError } from '../../../node-service/repository/s3/s3-check.js';
import { startCephGateway, type CephGateway } from '../../support/ceph-rgw.js';
import { freePort } from '../../support/net.js';

let gw: CephGateway;
let tlsGw: CephGateway;
let tmp: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vplus-s3check-'));
  const [a, b] = await Promise.allSettled([startCephGateway(), startCephGateway({ tls: true })]);
  if (a.status === 'fulfilled') gw = a.value;
  if (b.status === 'fulfilled') tlsGw = b.value;
  if (a.status === 'rejected') throw a.reason;
  if (b.status === 'rejected') throw b.reason;
  await gw.createBucket('plain');
  await gw.createBucket('locked', { objectLock: true });
  await tlsGw.createBucket('secure');
});

afterAll(async () => {
  await gw?.stop();
  await tlsGw?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The S3CheckError a check fails with (its code, operation and message), failing if the check passes. */
async function checkFails(loc: S3Repository, create = true, timeoutMs?: number): Promise<{ code: string; operation: string | undefined; message: string }> {
  try {
    await checkS3Destination(loc, { create, ...(timeoutMs ? { timeoutMs } : {}) });
  } catch (err) {
    if (err instanceof S3CheckError) return { code: err.code, operation: err.operation, message: err.message };
    throw err;
  }
  throw new Error('the check passed; a failure was expected');
}

/** Puts a real repository's config.json (made by Repository.init in a directory) under `prefix`. */
async function putRepository(bucket: string, prefix: string): Promise<string> {
  const dir = path.join(tmp, `repo-${bucket}-${prefix.replace(/\//g, '_')}`);
  const repo = await Repository.init(dir);
  const id = repo.config.id;
  await repo.close();
  const s3 = gw.client();
  try {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/config.json`, Body: fs.readFileSync(path.join(dir, 'config.json')) }));
  } finally {
    s3.destroy();
  }
  return id;
}

describe('a usable destination', () => {
  test('an empty prefix is fine for a new repository; the check says what the store can do and leaves nothing', async () => {
    const r = await checkS3Destination(gw.location('plain', { prefix: 'office/new' }), { create: true });
    expect(r).toMatchObject({
      endpoint: gw.endpoint,
      bucket: 'plain',
      prefix: 'office/new',
      repositoryExists: false,
      repository: null,
      objectLock: { enabled: false },
      conditionalWrites: true,
      warnings: [],
    });
    expect(r.latencyMs).toBeGreaterThanOrEqual(0);
    expect(r.latencyMs).toBeLessThan(5000);
    const s3 = gw.client();
    try {
      expect((await s3.send(new ListObjectsV2Command({ Bucket: 'plain', Prefix: 'office/' }))).KeyCount).toBe(0);
    } finally {
      s3.destroy();
    }
  });

  test('an existing repository is found (and is what opening needs)', async () => {
    const id = await putRepository('plain', 'office/existing');
    const r = await checkS3Destination(gw.location('plain', { prefix: 'office/existing' }), { create: false });
    expect(r).toMatchObject({ repositoryExists: true, repository: { id, encrypted: false } });
  });

  test('opening needs a repository; creating needs none, and an empty prefix', async () => {
    expect(await checkFails(gw.location('plain', { prefix: 'office/nothing' }), false)).toEqual({
      code: 'S3_NO_REPOSITORY',
      operation: undefined,
      message: 'There is no vPlus repository at s3://plain/office/nothing; check the bucket and prefix, or create a new repository there.',
    });
    await putRepository('plain', 'office/taken');
    expect(await checkFails(gw.location('plain', { prefix: 'office/taken' }), true)).toMatchObject({
      code: 'S3_REPOSITORY_EXISTS',
      message: expect.stringContaining('already exists at s3://plain/office/taken'),
    });
    const s3 = gw.client();
    try {
      await s3.send(new PutObjectCommand({ Bucket: 'plain', Key: 'photos/cat.jpg', Body: 'meow' }));
    } finally {
      s3.destroy();
    }
    expect(await checkFails(gw.location('plain', { prefix: 'photos' }), true)).toMatchObject({
      code: 'S3_PREFIX_NOT_EMPTY',
      message: 's3://plain/photos already holds other objects (such as photos/cat.jpg); choose an empty prefix for the new repository.',
    });
  });

  test('a bucket with object lock passes when immutability is asked for, and its default retention is reported', async () => {
    const s3 = gw.client();
    try {
      await s3.send(
        new PutObjectLockConfigurationCommand({
          Bucket: 'locked',
          ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 3 } } },
        }),
      );
      const r = await checkS3Destination(gw.location('locked', { prefix: 'vault', lock: { mode: 'governance', days: 7 } }), { create: true });
      expect(r.objectLock).toEqual({ enabled: true, mode: 'compliance', days: 3 });
      // Ceph 16 ignores If-None-Match in a versioned bucket (ceph-gateway.test.ts): the second
      // probe PUT made a second version. The default retention locked both: the check says
      // they stay rather than failing.
      expect(r.conditionalWrites).toBe(false);
      expect(r.warnings).toEqual([
        `${new URL(gw.endpoint).host} ignores conditional writes (If-None-Match: *); commits fall back to a lock protocol.`,
        expect.stringMatching(/^The check's probe vault\/\.vplus-probe-[0-9a-f]{16} stays in the bucket until its lock ends \(AccessDenied\)\.$/),
      ]);
      const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: 'locked', Prefix: 'vault/' }));
      expect(versions.Versions?.length).toBe(2);
    } finally {
      s3.destroy();
    }
  });
});

describe('what is wrong, exactly', () => {
  test('invalid settings name the field', async () => {
    expect(await checkFails({ ...gw.location('plain'), bucket: 'No_Such!' })).toMatchObject({
      code: 'S3_INVALID_SETTINGS',
      message: expect.stringMatching(/^bucket: bucket must be 3-63 characters/),
    });
  });

  test('a wrong secret', async () => {
    expect(await checkFails(gw.location('plain', { secretAccessKey: 'wrong-secret' }))).toEqual({
      code: 'S3_WRONG_SECRET',
      operation: 'ListObjectsV2',
      message: `The secret key does not match the access key ${gw.accessKeyId} at ${new URL(gw.endpoint).host}; check the secret key.`,
    });
  });

  test('an unknown access key', async () => {
    expect(await checkFails(gw.location('plain', { accessKeyId: 'NOSUCHKEY123', secretAccessKey: 'x' }))).toEqual({
      code: 'S3_UNKNOWN_ACCESS_KEY',
      operation: 'ListObjectsV2',
      message: `${new URL(gw.endpoint).host} does not know the access key NOSUCHKEY123; check the access key.`,
    });
  });

  test('a missing bucket', async () => {
    expect(await checkFails(gw.location('no-such-bucket'))).toEqual({
      code: 'S3_BUCKET_MISSING',
      operation: 'ListObjectsV2',
      message: `Bucket no-such-bucket does not exist at ${new URL(gw.endpoint).host}; create it (with object lock, for immutable backups) or correct its name.`,
    });
  });

  test('immutability asked for on a bucket without object lock', async () => {
    expect(await checkFails(gw.location('plain', { prefix: 'immutable', lock: { mode: 'compliance', days: 30 } }))).toMatchObject({
      code: 'S3_LOCK_NOT_ENABLED',
      operation: 'GetObjectLockConfiguration',
      message: expect.stringMatching(/^Immutability needs object lock on bucket plain, which does not have it; create the bucket with object lock enabled/),
    });
  });

  test('a user without permission: the check names the operation refused', async () => {
    await gw.createBucket('team');
    const other = { accessKeyId: gw.other.accessKeyId, secretAccessKey: gw.other.secretAccessKey };
    expect(await checkFails(gw.location('team', { prefix: 'p', ...other }))).toEqual({
      code: 'S3_ACCESS_DENIED',
      operation: 'ListObjectsV2',
      message: `Access key ${gw.other.accessKeyId} may not ListObjectsV2 on s3://team/p; grant it s3:ListBucket (bucket policy or IAM).`,
    });
    const s3 = gw.client();
    try {
      await s3.send(
        new PutBucketPolicyCommand({
          Bucket: 'team',
          Policy: JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Principal: { AWS: [gw.other.arn] }, Action: ['s3:ListBucket'], Resource: ['arn:aws:s3:::team'] },
              { Effect: 'Allow', Principal: { AWS: [gw.other.arn] }, Action: ['s3:GetObject'], Resource: ['arn:aws:s3:::team/*'] },
            ],
          }),
        }),
      );
    } finally {
      s3.destroy();
    }
    expect(await checkFails(gw.location('team', { prefix: 'p', ...other }))).toEqual({
      code: 'S3_ACCESS_DENIED',
      operation: 'PutObject',
      message: `Access key ${gw.other.accessKeyId} may not PutObject on s3://team/p; grant it s3:PutObject (bucket policy or IAM).`,
    });
  });

  test('an untrusted certificate, then the same gateway with its CA given', async () => {
    const host = new URL(tlsGw.endpoint).host;
    const { caPem: _ca, ...noCa } = tlsGw.location('secure');
    expect(await checkFails(noCa)).toEqual({
      code: 'S3_TLS_UNTRUSTED',
      operation: 'ListObjectsV2',
      message: `The certificate of ${host} is not trusted (UNABLE_TO_VERIFY_LEAF_SIGNATURE); give its CA (--ca-file) or use a certificate from a public CA.`,
    });
    const ok = await checkS3Destination(tlsGw.location('secure'), { create: true });
    expect(ok).toMatchObject({ endpoint: tlsGw.endpoint, repositoryExists: false, conditionalWrites: true });
  });

  test('a certificate for another name', async () => {
    const port = new URL(tlsGw.endpoint).port;
    expect(await checkFails(tlsGw.location('secure', { endpoint: `https://localhost:${port}` }))).toEqual({
      code: 'S3_TLS_HOSTNAME',
      operation: 'ListObjectsV2',
      message: `The certificate of localhost:${port} is not valid for the name localhost; use an endpoint name the certificate lists, or fix the certificate.`,
    });
  });

  test('a port nothing listens on', async () => {
    const port = await freePort();
    expect(await checkFails(gw.location('plain', { endpoint: `http://127.0.0.1:${port}` }))).toEqual({
      code: 'S3_CONNECTION_REFUSED',
      operation: 'ListObjectsV2',
      message: `127.0.0.1:${port} refused the connection; check the endpoint's port and that the S3 service runs there.`,
    });
  });

  test('a host name that does not resolve', async () => {
    expect(await checkFails(gw.location('plain', { endpoint: 'https://s3.vplus-test.invalid:9000' }))).toEqual({
      code: 'S3_DNS',
      operation: 'ListObjectsV2',
      message: "Cannot resolve host s3.vplus-test.invalid; check the endpoint's host name and this node's DNS.",
    });
  });

  test('a server that accepts the connection but never answers', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((s) => sockets.add(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    try {
      expect(await checkFails(gw.location('plain', { endpoint: `http://127.0.0.1:${port}` }), true, 500)).toEqual({
        code: 'S3_TIMEOUT',
        operation: 'ListObjectsV2',
        message: `127.0.0.1:${port} did not answer in time; check the endpoint, and any firewall or proxy between this node and it.`,
      });
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  test('http:// to a port that speaks https', async () => {
    const port = new URL(tlsGw.endpoint).port;
    expect(await checkFails(tlsGw.location('secure', { endpoint: `http://127.0.0.1:${port}` }))).toEqual({
      code: 'S3_NETWORK',
      operation: 'ListObjectsV2',
      message: `127.0.0.1:${port} closed the connection (ECONNRESET); check the endpoint's scheme (http or https) and port.`,
    });
  });
});
