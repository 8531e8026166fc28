/**
 * One S3 client per S3-compatible destination (issue 19), configured for the stores we meet
 * (AWS, Wasabi, Backblaze B2, Ceph RGW, MinIO) rather than for AWS alone.
 */
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { S3Repository } from '../../../common/s3-location.js';

/** Requests in flight per client; the repository bounds its own parallelism below this. */
const MAX_SOCKETS = 64;
const CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_IDLE_TIMEOUT_MS = 120_000;
/** 1 try + 5 retries: ~0.1 s … 1.6 s apart (×5 base for SlowDown/503 throttling), jittered. */
const DEFAULT_MAX_ATTEMPTS = 6;

export interface S3ClientOptions {
  /** Tries per request, the first included (1 = no retry). Default 6. */
  maxAttempts?: number;
  /**
   * A request fails when its connection stays silent this long (ms). An idle timeout, not a
   * total one: a large upload on a slow line may take longer as long as bytes move. Default 120 s.
   */
  requestTimeoutMs?: number;
}

/**
 * A client for `loc`: its endpoint (or AWS's, from the region), path-style when asked, its
 * private CA trusted on top of the system's, bounded keep-alive sockets, a connect timeout,
 * and the SDK's standard retry strategy — exponential backoff with jitter on 5xx, 503
 * SlowDown and other throttling, and on transient network errors (ECONNRESET, ECONNREFUSED,
 * timeouts), with a retry quota so a dead store fails fast instead of retrying forever.
 *
 * Checksums: only where the API requires them. The SDK's default (CRC32 on every PUT, sent as
 * an aws-chunked trailer) is unknown to Ceph 16, older MinIO and others, which refuse or
 * mis-store such uploads; the repository checks its own content hashes anyway. (AWS wants
 * Content-MD5 or an x-amz-checksum-* header on a PUT that sets object lock retention: give
 * such requests `ChecksumAlgorithm: 'CRC32'` with a Buffer body, which the SDK sends as a plain
 * header — Ceph 16 accepts that; only the streamed, trailing form is refused.)
 *
 * The caller destroys the client (`client.destroy()`) when done, which closes its sockets.
 */
export function s3ClientFor(loc: S3Repository, opts: S3ClientOptions = {}): S3Client {
  // The SDK is pinned (package.json) and the node runs the Node 20 we ship: its notice that
  // SDK releases after January 2027 need Node 22 would land in every node's log at each start.
  // Moving the shipped runtime to Node 22 is what lets the SDK be upgraded past that.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  const maxAttempts = opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new Error(`maxAttempts must be a whole number of at least 1, not ${maxAttempts}`);
  const idleMs = opts.requestTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  if (!(idleMs > 0)) throw new Error(`requestTimeoutMs must be positive, not ${idleMs}`);
  const agentOptions = { keepAlive: true, maxSockets: MAX_SOCKETS };
  const requestHandler = new NodeHttpHandler({
    connectionTimeout: CONNECT_TIMEOUT_MS,
    socketTimeout: idleMs,
    httpAgent: new http.Agent(agentOptions),
    // `ca` replaces Node's root store, so a private CA is added to it rather than put in its place.
    httpsAgent: new https.Agent(loc.caPem ? { ...agentOptions, ca: [...tls.rootCertificates, loc.caPem] } : agentOptions),
  });
  return new S3Client({
    ...(loc.endpoint ? { endpoint: loc.endpoint } : {}),
    region: loc.region,
    forcePathStyle: loc.forcePathStyle,
    credentials: { accessKeyId: loc.accessKeyId, secretAccessKey: loc.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    retryMode: 'standard',
    maxAttempts,
    requestHandler,
  });
}
