/**
 * The test S3 gateway (tests/support/ceph-rgw.ts) is a real S3: what the S3 destination
 * relies on works there — Range, multipart, conditional PUT, pagination, versioning, object
 * lock, TLS with a private CA, stopping and restarting the gateway, per-user permissions.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutBucketPolicyCommand,
  PutObjectCommand,
  PutObjectLockConfigurationCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startCephGateway, type CephGateway } from '../../support/ceph-rgw.js';

let gw: CephGateway;
let tlsGw: CephGateway;
let s3: S3Client;
let startMs: number;

beforeAll(async () => {
  const t0 = Date.now();
  // Two at once: each cluster has its own ports, fsid, dirs and sockets.
  const [a, b] = await Promise.allSettled([startCephGateway(), startCephGateway({ tls: true })]);
  startMs = Date.now() - t0;
  if (a.status === 'fulfilled') gw = a.value;
  if (b.status === 'fulfilled') tlsGw = b.value;
  if (a.status === 'rejected') throw a.reason;
  if (b.status === 'rejected') throw b.reason;
  s3 = gw.client();
});

afterAll(async () => {
  s3?.destroy();
  await gw?.stop();
  await tlsGw?.stop();
});

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const bytesOf = async (out: { Body?: { transformToByteArray(): Promise<Uint8Array> } }): Promise<Buffer> => Buffer.from(await out.Body!.transformToByteArray());

/** The S3 error a call rejects with (name and HTTP status), failing if it resolves. */
async function s3Error(p: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof S3ServiceException) return { name: err.name, status: err.$metadata.httpStatusCode };
    throw err;
  }
  throw new Error('the request succeeded; an S3 error was expected');
}

test('two clusters start side by side, each within seconds, in its own temp dir', () => {
  console.log(`two Ceph gateways (plain + TLS) started in parallel in ${startMs} ms`);
  expect(gw.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(tlsGw.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  expect(gw.endpoint).not.toBe(tlsGw.endpoint);
  expect(gw.dir).not.toBe(tlsGw.dir);
  expect(startMs).toBeLessThan(30_000);
});

test('PUT then GET returns the bytes; a Range GET returns exactly the range', async () => {
  await gw.createBucket('basic');
  const body = randomBytes(100_000);
  await s3.send(new PutObjectCommand({ Bucket: 'basic', Key: 'dir/obj', Body: body }));
  expect(sha(await bytesOf(await s3.send(new GetObjectCommand({ Bucket: 'basic', Key: 'dir/obj' }))))).toBe(sha(body));
  const part = await s3.send(new GetObjectCommand({ Bucket: 'basic', Key: 'dir/obj', Range: 'bytes=1000-1999' }));
  expect(part.ContentRange).toBe('bytes 1000-1999/100000');
  expect((await bytesOf(part)).equals(body.subarray(1000, 2000))).toBe(true);
  expect(await s3Error(s3.send(new GetObjectCommand({ Bucket: 'basic', Key: 'missing' })))).toEqual({ name: 'NoSuchKey', status: 404 });
  expect(await s3Error(s3.send(new GetObjectCommand({ Bucket: 'no-such-bucket', Key: 'x' })))).toEqual({ name: 'NoSuchBucket', status: 404 });
});

test('a multipart upload assembles its parts in order', async () => {
  await gw.createBucket('multi');
  const parts = [randomBytes(5 * 1024 * 1024), randomBytes(5 * 1024 * 1024), randomBytes(123_457)];
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'multi', Key: 'big' }));
  const etags = [];
  for (const [i, p] of parts.entries()) {
    const r = await s3.send(new UploadPartCommand({ Bucket: 'multi', Key: 'big', UploadId, PartNumber: i + 1, Body: p }));
    etags.push({ ETag: r.ETag!, PartNumber: i + 1 });
  }
  const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'multi', Key: 'big', UploadId, MultipartUpload: { Parts: etags } }));
  console.log(`CompleteMultipartUpload ETag from Ceph: ${JSON.stringify(done.ETag)}`);
  const whole = Buffer.concat(parts);
  const head = await s3.send(new HeadObjectCommand({ Bucket: 'multi', Key: 'big' }));
  expect(head.ContentLength).toBe(whole.length);
  expect(sha(await bytesOf(await s3.send(new GetObjectCommand({ Bucket: 'multi', Key: 'big' }))))).toBe(sha(whole));
});

test('a conditional PUT (If-None-Match: *) creates once and then fails with 412', async () => {
  await gw.createBucket('cond');
  await s3.send(new PutObjectCommand({ Bucket: 'cond', Key: 'manifest', Body: 'first', IfNoneMatch: '*' }));
  expect(await s3Error(s3.send(new PutObjectCommand({ Bucket: 'cond', Key: 'manifest', Body: 'second', IfNoneMatch: '*' })))).toEqual({
    name: 'PreconditionFailed',
    status: 412,
  });
  expect((await bytesOf(await s3.send(new GetObjectCommand({ Bucket: 'cond', Key: 'manifest' })))).toString()).toBe('first');
});

test('in a versioned bucket Ceph 16 ignores If-None-Match: * (the second PUT makes a new version)', async () => {
  // A store fact the repository's commit protocol must live with: conditional writes are
  // honoured in unversioned buckets only, and object lock needs versioning.
  await gw.createBucket('cond-versioned', { versioning: true });
  const first = await s3.send(new PutObjectCommand({ Bucket: 'cond-versioned', Key: 'manifest', Body: 'first', IfNoneMatch: '*' }));
  const second = await s3.send(new PutObjectCommand({ Bucket: 'cond-versioned', Key: 'manifest', Body: 'second', IfNoneMatch: '*' }));
  expect(second.VersionId).not.toBe(first.VersionId);
  expect((await bytesOf(await s3.send(new GetObjectCommand({ Bucket: 'cond-versioned', Key: 'manifest' })))).toString()).toBe('second');
});

test('listing pages through every key with continuation tokens', async () => {
  await gw.createBucket('listing');
  const keys = Array.from({ length: 23 }, (_, i) => `p/k${String(i).padStart(3, '0')}`);
  await Promise.all(keys.map((Key) => s3.send(new PutObjectCommand({ Bucket: 'listing', Key, Body: Key }))));
  await s3.send(new PutObjectCommand({ Bucket: 'listing', Key: 'other/x', Body: 'x' }));
  const seen: string[] = [];
  let pages = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: 'listing', Prefix: 'p/', MaxKeys: 10, ContinuationToken: token }));
    pages++;
    seen.push(...(page.Contents ?? []).map((c) => c.Key!));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  expect(pages).toBe(3);
  expect(seen).toEqual(keys);
});

test('a versioned bucket keeps every version, readable by id', async () => {
  await gw.createBucket('versions', { versioning: true });
  const v1 = await s3.send(new PutObjectCommand({ Bucket: 'versions', Key: 'k', Body: 'one' }));
  const v2 = await s3.send(new PutObjectCommand({ Bucket: 'versions', Key: 'k', Body: 'two' }));
  expect(v1.VersionId).toBeTruthy();
  expect(v2.VersionId).not.toBe(v1.VersionId);
  const list = await s3.send(new ListObjectVersionsCommand({ Bucket: 'versions', Prefix: 'k' }));
  expect(list.Versions?.map((v) => v.VersionId).sort()).toEqual([v1.VersionId, v2.VersionId].sort());
  expect((await bytesOf(await s3.send(new GetObjectCommand({ Bucket: 'versions', Key: 'k', VersionId: v1.VersionId })))).toString()).toBe('one');
  expect((await bytesOf(await s3.send(new GetObjectCommand({ Bucket: 'versions', Key: 'k' })))).toString()).toBe('two');
});

describe('object lock', () => {
  const until = (): Date => new Date(Date.now() + 24 * 3600 * 1000);

  test('a GOVERNANCE-locked version cannot be deleted, except with the bypass', async () => {
    await gw.createBucket('locked', { objectLock: true });
    const cfg = await s3.send(new GetObjectLockConfigurationCommand({ Bucket: 'locked' }));
    expect(cfg.ObjectLockConfiguration?.ObjectLockEnabled).toBe('Enabled');
    const put = await s3.send(new PutObjectCommand({ Bucket: 'locked', Key: 'chunk', Body: 'data', ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: until() }));
    expect(put.VersionId).toBeTruthy();
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'locked', Key: 'chunk' }));
    expect(head.ObjectLockMode).toBe('GOVERNANCE');
    expect(await s3Error(s3.send(new DeleteObjectCommand({ Bucket: 'locked', Key: 'chunk', VersionId: put.VersionId })))).toEqual({ name: 'AccessDenied', status: 403 });
    // Deleting without a version id only adds a delete marker: the locked version stays.
    await s3.send(new DeleteObjectCommand({ Bucket: 'locked', Key: 'chunk' }));
    expect((await bytesOf(await s3.send(new GetObjectCommand({ Bucket: 'locked', Key: 'chunk', VersionId: put.VersionId })))).toString()).toBe('data');
    await s3.send(new DeleteObjectCommand({ Bucket: 'locked', Key: 'chunk', VersionId: put.VersionId, BypassGovernanceRetention: true }));
    expect(await s3Error(s3.send(new HeadObjectCommand({ Bucket: 'locked', Key: 'chunk', VersionId: put.VersionId })))).toMatchObject({ status: 404 });
  });

  test('a COMPLIANCE-locked version cannot be deleted even with the bypass', async () => {
    await gw.createBucket('compliance', { objectLock: true });
    const put = await s3.send(new PutObjectCommand({ Bucket: 'compliance', Key: 'c', Body: 'x', ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: until() }));
    expect(
      await s3Error(s3.send(new DeleteObjectCommand({ Bucket: 'compliance', Key: 'c', VersionId: put.VersionId, BypassGovernanceRetention: true }))),
    ).toEqual({ name: 'AccessDenied', status: 403 });
  });

  test("a bucket's default retention locks every new object", async () => {
    await gw.createBucket('default-lock', { objectLock: true });
    await s3.send(
      new PutObjectLockConfigurationCommand({
        Bucket: 'default-lock',
        ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 1 } } },
      }),
    );
    const cfg = await s3.send(new GetObjectLockConfigurationCommand({ Bucket: 'default-lock' }));
    expect(cfg.ObjectLockConfiguration?.Rule?.DefaultRetention).toMatchObject({ Mode: 'GOVERNANCE', Days: 1 });
    const put = await s3.send(new PutObjectCommand({ Bucket: 'default-lock', Key: 'd', Body: 'x' }));
    expect(await s3Error(s3.send(new DeleteObjectCommand({ Bucket: 'default-lock', Key: 'd', VersionId: put.VersionId })))).toEqual({ name: 'AccessDenied', status: 403 });
  });

  test('a bucket made without object lock says so', async () => {
    await gw.createBucket('unlocked');
    expect(await s3Error(s3.send(new GetObjectLockConfigurationCommand({ Bucket: 'unlocked' })))).toEqual({
      name: 'ObjectLockConfigurationNotFoundError',
      status: 404,
    });
  });
});

describe('credentials and permissions', () => {
  test('a wrong secret, an unknown key and another user each get their own error', async () => {
    await gw.createBucket('private');
    const wrongSecret = gw.client({ accessKeyId: gw.accessKeyId, secretAccessKey: 'not-the-secret' });
    const unknownKey = gw.client({ accessKeyId: 'NOSUCHKEY0000000', secretAccessKey: 'whatever' });
    const other = gw.client(gw.other);
    try {
      expect(await s3Error(wrongSecret.send(new ListObjectsV2Command({ Bucket: 'private' })))).toEqual({ name: 'SignatureDoesNotMatch', status: 403 });
      expect(await s3Error(unknownKey.send(new ListObjectsV2Command({ Bucket: 'private' })))).toEqual({ name: 'InvalidAccessKeyId', status: 403 });
      expect(await s3Error(other.send(new ListObjectsV2Command({ Bucket: 'private' })))).toEqual({ name: 'AccessDenied', status: 403 });
      // The other user's own keys work: it simply owns nothing.
      expect((await other.send(new ListBucketsCommand({}))).Buckets ?? []).toEqual([]);
    } finally {
      for (const c of [wrongSecret, unknownKey, other]) c.destroy();
    }
  });

  test('a bucket policy can grant another user listing but not writing', async () => {
    await gw.createBucket('shared');
    await s3.send(
      new PutBucketPolicyCommand({
        Bucket: 'shared',
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { AWS: [gw.other.arn] }, Action: ['s3:ListBucket'], Resource: ['arn:aws:s3:::shared'] }],
        }),
      }),
    );
    const other = gw.client(gw.other);
    try {
      expect((await other.send(new ListObjectsV2Command({ Bucket: 'shared' }))).KeyCount).toBe(0);
      expect(await s3Error(other.send(new PutObjectCommand({ Bucket: 'shared', Key: 'probe', Body: 'x' })))).toEqual({ name: 'AccessDenied', status: 403 });
    } finally {
      other.destroy();
    }
  });
});

test('the gateway can be stopped and started again; the data stays', async () => {
  await gw.createBucket('restart');
  await s3.send(new PutObjectCommand({ Bucket: 'restart', Key: 'k', Body: 'kept' }));
  await gw.stopGateway();
  const fresh = gw.client();
  try {
    await expect(fresh.send(new GetObjectCommand({ Bucket: 'restart', Key: 'k' }))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await gw.startGateway();
    expect((await bytesOf(await fresh.send(new GetObjectCommand({ Bucket: 'restart', Key: 'k' })))).toString()).toBe('kept');
  } finally {
    fresh.destroy();
  }
});

test("the gateway's access log counts the requests made", async () => {
  await gw.createBucket('counted');
  const before = (await gw.requests()).filter((r) => r.target.startsWith('/counted/')).length;
  for (let i = 0; i < 3; i++) await s3.send(new PutObjectCommand({ Bucket: 'counted', Key: `k${i}`, Body: 'x' }));
  await s3.send(new GetObjectCommand({ Bucket: 'counted', Key: 'k0' }));
  const mine = (await gw.requests()).filter((r) => r.target.startsWith('/counted/')).slice(before);
  expect(mine.map((r) => `${r.method} ${r.status}`)).toEqual(['PUT 200', 'PUT 200', 'PUT 200', 'GET 200']);
});

describe('TLS', () => {
  test('a client trusting the CA talks to the gateway', async () => {
    expect(tlsGw.caPem).toContain('BEGIN CERTIFICATE');
    await tlsGw.createBucket('secure');
    const c = tlsGw.client();
    try {
      await c.send(new PutObjectCommand({ Bucket: 'secure', Key: 'k', Body: 'over tls' }));
      expect((await bytesOf(await c.send(new GetObjectCommand({ Bucket: 'secure', Key: 'k' })))).toString()).toBe('over tls');
    } finally {
      c.destroy();
    }
  });

  test('a client with only the system CAs refuses the certificate', async () => {
    const c = new S3Client({
      endpoint: tlsGw.endpoint,
      region: tlsGw.region,
      forcePathStyle: true,
      credentials: { accessKeyId: tlsGw.accessKeyId, secretAccessKey: tlsGw.secretAccessKey },
      maxAttempts: 1,
    });
    try {
      await expect(c.send(new ListBucketsCommand({}))).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    } finally {
      c.destroy();
    }
  });
});
