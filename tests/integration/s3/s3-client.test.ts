/**
 * s3ClientFor against the real gateway behind a fault-injecting proxy: it retries with backoff
 * on 503 SlowDown and 5xx, not on refusals, gives up after maxAttempts, times out a silent
 * request, and sends uploads Ceph 16 understands (no aws-chunked checksum trailers).
 */
import { Readable } from 'node:stream';
import { GetObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import { s3ClientFor } from '../../../node-service/repository/s3/s3-client.js';
import { startCephGateway, type CephGateway } from '../../support/ceph-rgw.js';
import { startFaultProxy, type FaultProxy } from '../../support/s3-fault-proxy.js';

let gw: CephGateway;
let proxy: FaultProxy;
const BUCKET = 'retries';

beforeAll(async () => {
  gw = await startCephGateway();
  await gw.createBucket(BUCKET);
  proxy = await startFaultProxy(gw.endpoint);
});

afterAll(async () => {
  await proxy?.stop();
  await gw?.stop();
});

beforeEach(() => proxy.reset());

const viaProxy = (opts?: Parameters<typeof s3ClientFor>[1]): S3Client => s3ClientFor(gw.location(BUCKET, { endpoint: proxy.endpoint }), opts);
const isPut = (method: string): boolean => method === 'PUT';

async function withClient<T>(c: S3Client, fn: (c: S3Client) => Promise<T>): Promise<T> {
  try {
    return await fn(c);
  } finally {
    c.destroy();
  }
}

/** An object's bytes, read straight from the gateway (the body before the client goes). */
const readObject = (Key: string): Promise<Buffer> =>
  withClient(gw.client(), async (c) => Buffer.from(await (await c.send(new GetObjectCommand({ Bucket: BUCKET, Key }))).Body!.transformToByteArray()));

test('503 SlowDown twice: the PUT is retried with backoff and succeeds', async () => {
  proxy.inject({ times: 2, match: isPut, status: 503, code: 'SlowDown' });
  const out = await withClient(viaProxy(), (c) => c.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'slow', Body: 'after two refusals' })));
  expect(out.$metadata.attempts).toBe(3);
  expect(out.$metadata.totalRetryDelay).toBeGreaterThan(0);
  expect(proxy.requests.map((r) => `${r.method} ${r.status}${r.injected ? ' injected' : ''}`)).toEqual(['PUT 503 injected', 'PUT 503 injected', 'PUT 200']);
  expect(await readObject('slow')).toEqual(Buffer.from('after two refusals'));
});

test('a 500 InternalError on a GET is retried', async () => {
  await withClient(gw.client(), (c) => c.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'flaky', Body: 'x' })));
  proxy.inject({ times: 1, match: (m) => m === 'GET', status: 500, code: 'InternalError' });
  const got = await withClient(viaProxy(), async (c) => {
    const r = await c.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'flaky' }));
    return { attempts: r.$metadata.attempts, body: await r.Body!.transformToString() };
  });
  expect(got).toEqual({ attempts: 2, body: 'x' });
});

test('it gives up after maxAttempts, with the store\'s error', async () => {
  proxy.inject({ times: 10, match: isPut, status: 503, code: 'SlowDown' });
  const err = await withClient(viaProxy({ maxAttempts: 3 }), (c) => c.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'never', Body: 'x' }))).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(S3ServiceException);
  expect((err as S3ServiceException).name).toBe('SlowDown');
  expect(proxy.requests.filter((r) => r.method === 'PUT')).toHaveLength(3);
});

test('a refusal (403) is not retried', async () => {
  proxy.inject({ times: 1, match: isPut, status: 403, code: 'AccessDenied' });
  const err = await withClient(viaProxy(), (c) => c.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'denied', Body: 'x' }))).catch((e: unknown) => e);
  expect((err as S3ServiceException).name).toBe('AccessDenied');
  expect(proxy.requests).toHaveLength(1);
});

test('a request that gets no answer times out after requestTimeoutMs', async () => {
  proxy.inject({ times: 1, match: (m) => m === 'GET', stallMs: 30_000 });
  const t0 = Date.now();
  const err = await withClient(viaProxy({ maxAttempts: 1, requestTimeoutMs: 500 }), (c) => c.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'slow' }))).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(Error);
  expect(Date.now() - t0).toBeLessThan(10_000);
  expect(proxy.requests).toHaveLength(1);
});

test('uploads carry a plain signed payload, no aws-chunked checksum trailer', async () => {
  await withClient(viaProxy(), (c) => c.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'plain', Body: Buffer.alloc(70_000, 1) })));
  const put = proxy.requests.find((r) => r.method === 'PUT')!;
  expect(put.headers['content-encoding']).toBeUndefined();
  expect(put.headers['x-amz-trailer']).toBeUndefined();
  expect(put.headers['x-amz-content-sha256']).not.toMatch(/STREAMING/);
  expect(Object.keys(put.headers).filter((h) => h.startsWith('x-amz-checksum-'))).toEqual([]);
});

test('a streamed upload works; with the SDK defaults Ceph 16 refuses it (aws-chunked trailer: 411 MissingContentLength)', async () => {
  const body = (): Readable => Readable.from([Buffer.alloc(40_000, 2), Buffer.alloc(30_000, 3)]);
  await withClient(viaProxy(), (c) => c.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'streamed', Body: body(), ContentLength: 70_000 })));
  expect((await readObject('streamed')).equals(Buffer.concat([Buffer.alloc(40_000, 2), Buffer.alloc(30_000, 3)]))).toBe(true);

  const defaults = new S3Client({ endpoint: proxy.endpoint, region: gw.region, forcePathStyle: true, credentials: { accessKeyId: gw.accessKeyId, secretAccessKey: gw.secretAccessKey }, maxAttempts: 1 });
  const err = await withClient(defaults, (c) => c.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'streamed-default', Body: body(), ContentLength: 70_000 }))).catch((e: unknown) => e);
  expect(err).toMatchObject({ name: 'MissingContentLength', $metadata: { httpStatusCode: 411 } });
  expect(proxy.requests.at(-1)?.headers['x-amz-content-sha256']).toBe('STREAMING-UNSIGNED-PAYLOAD-TRAILER');
});

test('invalid options are refused with the option named', () => {
  expect(() => s3ClientFor(gw.location(BUCKET), { maxAttempts: 0 })).toThrow(/^maxAttempts must be a whole number of at least 1/);
  expect(() => s3ClientFor(gw.location(BUCKET), { requestTimeoutMs: -1 })).toThrow(/^requestTimeoutMs must be positive/);
});
