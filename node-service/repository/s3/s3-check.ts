/**
 * Checks an S3-compatible destination before it is used (issue 19, "Check"): reaches the
 * endpoint, proves the credentials, the bucket and each permission a repository needs, finds
 * out whether the store honours conditional writes and object lock, and whether a repository
 * is already at the prefix. What is wrong comes back as an S3CheckError with a code and one
 * sentence an admin can act on; `classifyS3Error` gives the same words for any S3 failure.
 */
import { randomBytes } from 'node:crypto';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3ServiceException,
  type S3Client,
} from '@aws-sdk/client-s3';
import { S3RepositorySchema, type S3LockMode, type S3Repository } from '../../../common/s3-location.js';
import { LAYOUT, repositoryConfigSchema } from '../format.js';
import { s3ClientFor } from './s3-client.js';

export type S3CheckErrorCode =
  | 'S3_INVALID_SETTINGS'
  | 'S3_DNS'
  | 'S3_CONNECTION_REFUSED'
  | 'S3_TIMEOUT'
  | 'S3_NETWORK'
  | 'S3_TLS_UNTRUSTED'
  | 'S3_TLS_HOSTNAME'
  | 'S3_TLS_EXPIRED'
  | 'S3_TLS'
  | 'S3_UNKNOWN_ACCESS_KEY'
  | 'S3_WRONG_SECRET'
  | 'S3_CLOCK_SKEW'
  | 'S3_WRONG_REGION'
  | 'S3_BUCKET_MISSING'
  | 'S3_ACCESS_DENIED'
  | 'S3_LOCK_NOT_ENABLED'
  | 'S3_NO_REPOSITORY'
  | 'S3_REPOSITORY_EXISTS'
  | 'S3_PREFIX_NOT_EMPTY'
  | 'S3_NOT_A_REPOSITORY'
  | 'S3_PROBE_MISMATCH'
  | 'S3_ERROR';

/** The S3 operations the check (and a repository) needs, named as in IAM policies. */
export type S3Operation =
  | 'ListObjectsV2'
  | 'GetObject'
  | 'PutObject'
  | 'DeleteObject'
  | 'GetObjectLockConfiguration'
  | 'ListObjectVersions'
  | (string & {});

/** IAM action per operation, for "grant s3:… to that key". */
const IAM_ACTION: Record<string, string> = {
  ListObjectsV2: 's3:ListBucket',
  ListObjectVersions: 's3:ListBucketVersions',
  GetObject: 's3:GetObject',
  PutObject: 's3:PutObject',
  DeleteObject: 's3:DeleteObject',
  GetObjectLockConfiguration: 's3:GetBucketObjectLockConfiguration',
};

export class S3CheckError extends Error {
  readonly code: S3CheckErrorCode;
  /** The S3 operation that failed, when one did. */
  readonly operation: S3Operation | undefined;

  constructor(code: S3CheckErrorCode, message: string, options?: { operation?: S3Operation; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.operation = options?.operation;
  }
}

export interface S3CheckOptions {
  /** true: the destination is being created (an empty prefix is fine); false: a repository must be there. */
  create: boolean;
  signal?: AbortSignal;
  /** How long one request may stay silent before the check calls the store unreachable (ms). Default 15 s. */
  timeoutMs?: number;
}

export interface S3CheckResult {
  /** The endpoint used (AWS's regional endpoint when the destination names none). */
  endpoint: string;
  bucket: string;
  prefix: string;
  repositoryExists: boolean;
  /** The repository at the prefix, when there is one. */
  repository: { id: string; encrypted: boolean } | null;
  /** The bucket's object lock; null when the store would not say (and none was asked for). */
  objectLock: { enabled: boolean; mode?: S3LockMode; days?: number } | null;
  /** Whether the store refuses a second `PUT` with `If-None-Match: *` (412), as atomic commits need. */
  conditionalWrites: boolean;
  /** The fastest round trip seen during the check (ms). */
  latencyMs: number;
  /** Things that work but an admin should know (a store ignoring conditional writes, a probe left behind). */
  warnings: string[];
}

/** Where the repository's file `rel` lives in the bucket. */
export function s3KeyOf(prefix: string, rel: string): string {
  return prefix ? `${prefix}/${rel}` : rel;
}

/** The endpoint a location talks to, for messages. */
export function s3EndpointOf(loc: Pick<S3Repository, 'endpoint' | 'region'>): string {
  return loc.endpoint ?? `https://s3.${loc.region}.amazonaws.com`;
}

interface ErrorContext {
  endpoint: string;
  bucket: string;
  prefix: string;
  accessKeyId: string;
  region: string;
  operation: S3Operation;
}

const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

/** The first `code` on an error or its causes (the SDK wraps some network errors). */
function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/**
 * Turns any failure of an S3 request into an S3CheckError whose message says what to do.
 * AbortErrors pass through unchanged (the caller asked to stop).
 */
export function classifyS3Error(err: unknown, ctx: ErrorContext): Error {
  if (err instanceof S3CheckError) return err;
  if (err instanceof Error && err.name === 'AbortError') return err;
  const url = new URL(ctx.endpoint);
  const host = url.hostname;
  const hostPort = url.host;
  const where = `s3://${ctx.bucket}${ctx.prefix ? `/${ctx.prefix}` : ''}`;
  const op = ctx.operation;
  const mk = (code: S3CheckErrorCode, message: string): S3CheckError => new S3CheckError(code, message, { operation: op, cause: err });

  if (err instanceof S3ServiceException) {
    const status = err.$metadata.httpStatusCode;
    switch (err.name) {
      case 'InvalidAccessKeyId':
        return mk('S3_UNKNOWN_ACCESS_KEY', `${hostPort} does not know the access key ${ctx.accessKeyId}; check the access key.`);
      case 'SignatureDoesNotMatch':
        return mk('S3_WRONG_SECRET', `The secret key does not match the access key ${ctx.accessKeyId} at ${hostPort}; check the secret key.`);
      case 'RequestTimeTooSkewed':
        return mk('S3_CLOCK_SKEW', `${hostPort} refuses requests because this node's clock differs too much from its own; set the node's clock (NTP).`);
      case 'AuthorizationHeaderMalformed':
      case 'PermanentRedirect':
      case 'IllegalLocationConstraintException': {
        const region = (err as { Region?: string }).Region;
        return mk('S3_WRONG_REGION', `Bucket ${ctx.bucket} is not in region ${ctx.region}${region ? ` but in ${region}` : ''}; set the destination's region${region ? ` to ${region}` : ''}.`);
      }
      case 'NoSuchBucket':
        return mk('S3_BUCKET_MISSING', `Bucket ${ctx.bucket} does not exist at ${hostPort}; create it (with object lock, for immutable backups) or correct its name.`);
      case 'AccessDenied':
      case 'AllAccessDisabled': {
        const action = IAM_ACTION[op] ?? `s3:${op}`;
        return mk('S3_ACCESS_DENIED', `Access key ${ctx.accessKeyId} may not ${op} on ${where}; grant it ${action} (bucket policy or IAM).`);
      }
      case 'SlowDown':
      case 'ServiceUnavailable':
      case 'InternalError':
        return mk('S3_ERROR', `${hostPort} is overloaded or failing (${err.name}, HTTP ${status ?? '?'}) on ${op}; try again later.`);
    }
    return mk('S3_ERROR', `${op} on ${where} at ${hostPort} failed: ${err.name}${status ? ` (HTTP ${status})` : ''}${err.message && err.message !== err.name && err.message !== 'UnknownError' ? `: ${err.message}` : ''}.`);
  }

  const code = errorCode(err);
  const detail = err instanceof Error ? err.message : String(err);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME' || code === 'EAI_NODATA')
    return mk('S3_DNS', `Cannot resolve host ${host}; check the endpoint's host name and this node's DNS.`);
  if (code === 'ECONNREFUSED') return mk('S3_CONNECTION_REFUSED', `${hostPort} refused the connection; check the endpoint's port and that the S3 service runs there.`);
  // Before the timeout test: the SDK names a reset connection "TimeoutError" too.
  if (code === 'ECONNRESET' || code === 'EPIPE' || /socket hang up/i.test(detail))
    return mk('S3_NETWORK', `${hostPort} closed the connection (${code ?? detail}); check the endpoint's scheme (http or https) and port.`);
  if (code === 'ETIMEDOUT' || code === 'ECONNABORTED' || code === 'TimeoutError' || (err instanceof Error && err.name === 'TimeoutError'))
    return mk('S3_TIMEOUT', `${hostPort} did not answer in time; check the endpoint, and any firewall or proxy between this node and it.`);
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH')
    return mk('S3_NETWORK', `${hostPort} cannot be reached from this node (${code}); check the network route to it.`);
  if (code && UNTRUSTED.has(code))
    return mk('S3_TLS_UNTRUSTED', `The certificate of ${hostPort} is not trusted (${code}); give its CA (--ca-file) or use a certificate from a public CA.`);
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return mk('S3_TLS_HOSTNAME', `The certificate of ${hostPort} is not valid for the name ${host}; use an endpoint name the certificate lists, or fix the certificate.`);
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID')
    return mk('S3_TLS_EXPIRED', `The certificate of ${hostPort} is ${code === 'CERT_HAS_EXPIRED' ? 'expired' : 'not valid yet'}; renew it, or check this node's clock.`);
  if (code === 'EPROTO' || (code?.startsWith('ERR_SSL') ?? false) || /wrong version number|ssl/i.test(detail))
    return mk('S3_TLS', `The TLS handshake with ${hostPort} failed (${detail}); check that the endpoint speaks https (or use http:// if it does not).`);
  return mk('S3_ERROR', `${op} on ${where} at ${hostPort} failed: ${detail}`);
}

/**
 * Checks the destination at `loc`, in the order an admin fixes things: settings, network,
 * TLS, credentials, bucket, permissions (list, write, read, delete), object lock, repository.
 * Leaves nothing behind but, in a locked bucket, the small probe object's locked version.
 */
export async function checkS3Destination(loc: S3Repository, opts: S3CheckOptions): Promise<S3CheckResult> {
  const parsed = S3RepositorySchema.safeParse(loc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new S3CheckError('S3_INVALID_SETTINGS', `${issue.path.join('.') || 'destination'}: ${issue.message}.`);
  }
  const l = parsed.data;
  const endpoint = s3EndpointOf(l);
  const ctxOf = (operation: S3Operation): ErrorContext => ({ endpoint, bucket: l.bucket, prefix: l.prefix, accessKeyId: l.accessKeyId, region: l.region, operation });
  // Two tries: one retry absorbs a blip without hiding a dead endpoint for long.
  const client = s3ClientFor(l, { maxAttempts: 2, requestTimeoutMs: opts.timeoutMs ?? 15_000 });
  let latencyMs = Number.POSITIVE_INFINITY;
  const warnings: string[] = [];

  async function call<T>(operation: S3Operation, send: (c: S3Client) => Promise<T>): Promise<T> {
    opts.signal?.throwIfAborted();
    const t0 = performance.now();
    try {
      const out = await send(client);
      latencyMs = Math.min(latencyMs, performance.now() - t0);
      return out;
    } catch (err) {
      // An S3 error is an answer too: it counts as a round trip.
      if (err instanceof S3ServiceException) latencyMs = Math.min(latencyMs, performance.now() - t0);
      throw classifyS3Error(err, ctxOf(operation));
    }
  }
  /** Like call, but an S3 error named in `expected` resolves to that name instead of failing. */
  async function callOr<T, N extends string>(operation: S3Operation, expected: readonly N[], send: (c: S3Client) => Promise<T>): Promise<T | N> {
    try {
      return await call(operation, send);
    } catch (err) {
      const cause = err instanceof S3CheckError ? err.cause : undefined;
      if (cause instanceof S3ServiceException && (expected as readonly string[]).includes(cause.name)) {
        return cause.name as N;
      }
      throw err;
    }
  }
  const abortSignal = opts.signal;

  try {
    // 1. Reach the store, prove the keys, find the bucket, may list: one request answers all four.
    const listing = await call('ListObjectsV2', (c) =>
      c.send(new ListObjectsV2Command({ Bucket: l.bucket, Prefix: l.prefix ? `${l.prefix}/` : undefined, MaxKeys: 20 }), { abortSignal }),
    );
    const foreign = (listing.Contents ?? []).map((o) => o.Key ?? '').filter((k) => !k.slice(l.prefix ? l.prefix.length + 1 : 0).startsWith('.vplus-probe-'));

    // 2. The repository at the prefix, if any.
    const where = `s3://${l.bucket}${l.prefix ? `/${l.prefix}` : ''}`;
    const configKey = s3KeyOf(l.prefix, LAYOUT.config);
    const config = await callOr('GetObject', ['NoSuchKey'] as const, (c) => c.send(new GetObjectCommand({ Bucket: l.bucket, Key: configKey }), { abortSignal }));
    let repository: S3CheckResult['repository'] = null;
    if (config !== 'NoSuchKey') {
      const text = (await config.Body?.transformToString()) ?? '';
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined; // reported just below, as any other configuration that is not ours
      }
      const cfg = repositoryConfigSchema.safeParse(json);
      if (!cfg.success) throw new S3CheckError('S3_NOT_A_REPOSITORY', `${configKey} in bucket ${l.bucket} is not a vPlus repository configuration; choose another prefix.`);
      repository = { id: cfg.data.id, encrypted: cfg.data.encryption !== null };
    }
    if (!opts.create && !repository)
      throw new S3CheckError('S3_NO_REPOSITORY', `There is no vPlus repository at ${where}; check the bucket and prefix, or create a new repository there.`);
    if (opts.create && repository)
      throw new S3CheckError('S3_REPOSITORY_EXISTS', `A vPlus repository already exists at ${where}; add it as an existing destination instead of creating one.`);
    if (opts.create && foreign.length > 0)
      throw new S3CheckError(
        'S3_PREFIX_NOT_EMPTY',
        `${where} already holds other objects (such as ${foreign[0]}); choose an empty prefix for the new repository.`,
      );

    // 3. Object lock on the bucket.
    let objectLock: S3CheckResult['objectLock'];
    try {
      const got = await callOr('GetObjectLockConfiguration', ['ObjectLockConfigurationNotFoundError'] as const, (c) =>
        c.send(new GetObjectLockConfigurationCommand({ Bucket: l.bucket }), { abortSignal }),
      );
      if (got === 'ObjectLockConfigurationNotFoundError') objectLock = { enabled: false };
      else {
        const rule = got.ObjectLockConfiguration?.Rule?.DefaultRetention;
        objectLock = {
          enabled: got.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled',
          ...(rule?.Mode ? { mode: rule.Mode.toLowerCase() as S3LockMode } : {}),
          ...(rule?.Days !== undefined ? { days: rule.Days } : rule?.Years !== undefined ? { days: rule.Years * 365 } : {}),
        };
      }
    } catch (err) {
      // Stores without object lock, or keys that may not read it: only a problem when a lock is asked for.
      if (l.lock || !(err instanceof S3CheckError) || err.code === 'S3_TIMEOUT' || err.code === 'S3_NETWORK') throw err;
      objectLock = null;
      warnings.push(`Could not read the bucket's object lock configuration: ${err.message}`);
    }
    if (l.lock && !objectLock?.enabled)
      throw new S3CheckError(
        'S3_LOCK_NOT_ENABLED',
        `Immutability needs object lock on bucket ${l.bucket}, which does not have it; create the bucket with object lock enabled (most stores allow it only at creation) or turn immutability off for this destination.`,
        { operation: 'GetObjectLockConfiguration' },
      );

    // 4. Write, read and delete a probe; the second conditional write tells whether the store honours If-None-Match.
    const probeKey = s3KeyOf(l.prefix, `.vplus-probe-${randomBytes(8).toString('hex')}`);
    const body = `vPlus destination check ${new Date().toISOString()}`;
    let conditionalWrites = false;
    const first = await callOr('PutObject', ['NotImplemented', 'InvalidArgument', 'InvalidRequest'] as const, (c) =>
      c.send(new PutObjectCommand({ Bucket: l.bucket, Key: probeKey, Body: body, IfNoneMatch: '*' }), { abortSignal }),
    );
    if (typeof first === 'string') {
      warnings.push(`${new URL(endpoint).host} refuses conditional writes (If-None-Match: *, ${first}); commits fall back to a lock protocol.`);
      await call('PutObject', (c) => c.send(new PutObjectCommand({ Bucket: l.bucket, Key: probeKey, Body: body }), { abortSignal }));
    } else {
      const second = await callOr('PutObject', ['PreconditionFailed'] as const, (c) =>
        c.send(new PutObjectCommand({ Bucket: l.bucket, Key: probeKey, Body: body, IfNoneMatch: '*' }), { abortSignal }),
      );
      conditionalWrites = second === 'PreconditionFailed';
      if (!conditionalWrites) warnings.push(`${new URL(endpoint).host} ignores conditional writes (If-None-Match: *); commits fall back to a lock protocol.`);
    }
    const read = await call('GetObject', (c) => c.send(new GetObjectCommand({ Bucket: l.bucket, Key: probeKey }), { abortSignal }));
    const readBack = (await read.Body?.transformToString()) ?? '';
    if (readBack !== body)
      throw new S3CheckError('S3_PROBE_MISMATCH', `${new URL(endpoint).host} returned other bytes than were written to ${probeKey}; the store is not usable as a destination.`, {
        operation: 'GetObject',
      });
    await call('DeleteObject', (c) => c.send(new DeleteObjectCommand({ Bucket: l.bucket, Key: probeKey }), { abortSignal }));
    // In a versioned (or locked) bucket the delete only hid the probe: remove its versions too, where the lock lets us.
    if (objectLock?.enabled) await removeProbeVersions(client, l.bucket, probeKey, warnings, abortSignal);

    return {
      endpoint,
      bucket: l.bucket,
      prefix: l.prefix,
      repositoryExists: repository !== null,
      repository,
      objectLock,
      conditionalWrites,
      latencyMs: Math.round(latencyMs),
      warnings,
    };
  } finally {
    client.destroy();
  }
}

async function removeProbeVersions(client: S3Client, bucket: string, key: string, warnings: string[], abortSignal?: AbortSignal): Promise<void> {
  try {
    const versions = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }), { abortSignal });
    const all = [...(versions.Versions ?? []), ...(versions.DeleteMarkers ?? [])].filter((v) => v.Key === key && v.VersionId);
    for (const v of all) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: v.VersionId }), { abortSignal });
  } catch (err) {
    if (err instanceof Error && err.name === 'AbortError') throw err;
    // A default retention locks the probe too; it goes away by itself when the lock ends.
    warnings.push(`The check's probe ${key} stays in the bucket until its lock ends (${err instanceof Error ? err.name : 'error'}).`);
  }
}
