/**
 * `vplus destination add NAME --node NODE --s3 URL/BUCKET[/PREFIX] …`: the S3 place from the
 * options, checked here with the API's schema so a mistake names its option, and the secret key
 * from a file or stdin (never from argv, where `ps` and the shell history would show it).
 */
import fs from 'node:fs/promises';
import type { z } from 'zod';
import { CreateS3DestinationSchema, UpdateS3CredentialsSchema } from '../common/api/destinations.js';
import { S3_LOCK_MODES, type S3LockMode } from '../common/s3-location.js';
import type { CliContext } from './context.js';
import { UsageError, errorMessage } from './errors.js';
import { readSecret } from './secrets.js';

export interface S3AddOptions {
  s3?: string;
  accessKey?: string;
  secretKeyFile?: string;
  region?: string;
  pathStyle?: boolean;
  caFile?: string;
  lock?: string;
  lockDays?: number;
  passwordStdin?: boolean;
}

/** A CA bundle larger than this is no CA bundle (S3PlaceSchema.caPem's limit). */
const MAX_CA_BYTES = 65_536;
const MAX_SECRET_KEY_BYTES = 4096;

/** Which option each field of the API's S3 place comes from, for errors. */
const OPTION_OF: Record<string, string> = {
  endpoint: '--s3 (the endpoint URL)',
  region: '--region',
  bucket: '--s3 (the bucket)',
  prefix: '--s3 (the prefix after the bucket)',
  forcePathStyle: '--path-style',
  caPem: '--ca-file',
  lock: '--lock',
  'lock.mode': '--lock',
  'lock.days': '--lock-days',
  accessKeyId: '--access-key',
  secretAccessKey: '--secret-key-file',
};

/**
 * "https://s3.example.com:9000/bucket/some/prefix" → endpoint, bucket and prefix;
 * "s3://bucket/prefix" → AWS S3 itself (the region from --region).
 */
export function parseS3Url(url: string): { endpoint?: string; bucket: string; prefix: string } {
  const aws = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(url);
  if (aws) return { bucket: aws[1]!, prefix: trimSlashes(aws[2] ?? '') };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--s3 "${url}": give the endpoint URL followed by the bucket, e.g. https://s3.example.com/backups/vplus, or s3://BUCKET[/PREFIX] for AWS`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new UsageError(`--s3 "${url}": the endpoint must be http:// or https:// (or s3://BUCKET for AWS)`);
  if (parsed.search || parsed.hash || parsed.username || parsed.password) throw new UsageError(`--s3 "${url}": give no query, fragment or credentials in the URL (the keys go in --access-key and --secret-key-file)`);
  const [bucket, ...rest] = trimSlashes(decodeURIComponent(parsed.pathname)).split('/');
  if (!bucket) throw new UsageError(`--s3 "${url}": the bucket is missing after the endpoint, e.g. ${parsed.origin}/BUCKET`);
  return { endpoint: parsed.origin, bucket, prefix: rest.join('/') };
}

function trimSlashes(s: string): string {
  return s.replace(/^\/+|\/+$/g, '');
}

/** The `s3` of CreateDestination from the options; reads the secret key (and CA) from their files. */
export async function s3DestinationFromOptions(ctx: CliContext, o: S3AddOptions): Promise<z.output<typeof CreateS3DestinationSchema>> {
  if (o.s3 === undefined) throw new UsageError('internal: no --s3');
  if (!o.accessKey) throw new UsageError('--s3 needs --access-key KEY (the access key id)');
  if (!o.secretKeyFile) throw new UsageError('--s3 needs --secret-key-file FILE (or - for stdin): the secret key is never given on the command line');
  if (o.lockDays !== undefined && o.lock === undefined) throw new UsageError('--lock-days goes with --lock governance|compliance');
  if (o.lock !== undefined && !S3_LOCK_MODES.includes(o.lock as S3LockMode)) throw new UsageError(`--lock "${o.lock}": give governance or compliance`);
  if (o.lock !== undefined && o.lockDays === undefined) throw new UsageError('--lock needs --lock-days N: how many days each backup stays locked');
  if (o.secretKeyFile === '-' && o.passwordStdin) throw new UsageError('--secret-key-file - and --password-stdin both read stdin: put the secret key in a file');
  const place = parseS3Url(o.s3);
  const secretAccessKey = o.secretKeyFile === '-' ? await readSecret(ctx, { prompt: 'S3 secret key: ', what: 'secret key' }) : await readSecretKeyFile(o.secretKeyFile);
  const caPem = o.caFile === undefined ? undefined : await readCaFile(o.caFile);
  const candidate = {
    ...place,
    ...(o.region !== undefined ? { region: o.region } : {}),
    forcePathStyle: o.pathStyle ?? false,
    ...(caPem !== undefined ? { caPem } : {}),
    ...(o.lock !== undefined ? { lock: { mode: o.lock, days: o.lockDays } } : {}),
    accessKeyId: o.accessKey,
    secretAccessKey,
  };
  const parsed = CreateS3DestinationSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.');
    throw new UsageError(`${OPTION_OF[field] ?? field}: ${issue.message}`);
  }
  return parsed.data;
}

/** The new key pair of `destination s3-credentials`. */
export async function s3CredentialsFromOptions(ctx: CliContext, o: { accessKey: string; secretKeyFile: string }): Promise<{ accessKeyId: string; secretAccessKey: string }> {
  const secretAccessKey = o.secretKeyFile === '-' ? await readSecret(ctx, { prompt: 'S3 secret key: ', what: 'secret key' }) : await readSecretKeyFile(o.secretKeyFile);
  const parsed = UpdateS3CredentialsSchema.safeParse({ accessKeyId: o.accessKey, secretAccessKey });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UsageError(`${OPTION_OF[issue.path.join('.')] ?? issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}

async function readSecretKeyFile(file: string): Promise<string> {
  const text = await readSmallFile(file, '--secret-key-file', MAX_SECRET_KEY_BYTES);
  const key = text.replace(/\r?\n$/, '');
  if (key === '') throw new UsageError(`--secret-key-file ${file} is empty`);
  return key;
}

async function readCaFile(file: string): Promise<string> {
  const text = await readSmallFile(file, '--ca-file', MAX_CA_BYTES);
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`--ca-file ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return text;
}

async function readSmallFile(file: string, option: string, max: number): Promise<string> {
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) throw new UsageError(`${option} ${file} is not a file`);
    if (stat.size > max) throw new UsageError(`${option} ${file} is larger than ${max} bytes`);
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read ${option} ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : errorMessage(err)}`);
  }
}
