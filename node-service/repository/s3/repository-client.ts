/**
 * The S3 client a repository on an object store uses, until s3-client.ts (s3ClientFor: custom
 * CA, path style, retries with backoff) is on main; then this file only forwards to it.
 */
import http from 'node:http';
import https from 'node:https';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { S3Repository } from '../../../common/s3-location.js';

export function repositoryS3Client(loc: S3Repository, maxSockets: number): S3Client {
  return new S3Client({
    ...(loc.endpoint ? { endpoint: loc.endpoint } : {}),
    region: loc.region,
    forcePathStyle: loc.forcePathStyle,
    credentials: { accessKeyId: loc.accessKeyId, secretAccessKey: loc.secretAccessKey },
    // Flexible checksums and aws-chunked trailers are unknown to many S3-compatible stores (Ceph 16).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // The SDK's standard mode: exponential backoff with jitter on 5xx, 503 SlowDown and connection errors.
    maxAttempts: 4,
    retryMode: 'standard',
    requestHandler: new NodeHttpHandler({
      httpAgent: new http.Agent({ keepAlive: true, maxSockets }),
      httpsAgent: new https.Agent({ keepAlive: true, maxSockets, ...(loc.caPem ? { ca: loc.caPem } : {}) }),
      connectionTimeout: 10_000,
      requestTimeout: 120_000,
    }),
  });
}
