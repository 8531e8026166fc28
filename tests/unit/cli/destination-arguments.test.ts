import { afterAll, describe, expect, it } from 'vitest';
import { validateDestinationName, validateDestinationPath, verifySubset } from '../../../cli/commands/destination.command.js';
import { UsageError } from '../../../cli/errors.js';
import { parseS3Url } from '../../../cli/s3-destination.js';
import { formatRetention, parseRetentionSpec } from '../../../cli/retention.js';
import { RetentionSchema } from '../../../common/api/index.js';
import { parseRetentionSpec as nodeParseRetentionSpec } from '../../../node-service/repository/retention.js';
import { removeTempDirs, runVplus, unusedPort } from './helpers.js';

afterAll(removeTempDirs);

describe('--retention SPEC', () => {
  it.each([
    ['last=3 daily=14 weekly=8 monthly=12 yearly=2 maxage=365', { keepLast: 3, daily: 14, weekly: 8, monthly: 12, yearly: 2, maxAgeDays: 365 }],
    ['last=3 daily=14 weekly=8 monthly=12', { keepLast: 3, daily: 14, weekly: 8, monthly: 12 }],
    ['  daily=7   weekly=4 ', { daily: 7, weekly: 4 }],
    ['maxage=90d', { maxAgeDays: 90 }],
    ['Last=1 DAILY=2', { keepLast: 1, daily: 2 }],
    ['yearly=10000', { yearly: 10_000 }],
  ])('%s', (spec, retention) => {
    const parsed = parseRetentionSpec(spec);
    expect(parsed).toEqual(retention);
    // What the API accepts, and what the node's own parser makes of the same words.
    expect(RetentionSchema.safeParse(parsed).success).toBe(true);
    expect(nodeParseRetentionSpec(spec.toLowerCase())).toEqual(retention);
  });

  it.each([
    ['', /no rules given/],
    ['   ', /no rules given/],
    ['dayly=14', /"dayly=14": there is no rule "dayly" \(rules: last, daily, weekly, monthly, yearly, maxage\)/],
    ['last=3 keep=2', /"keep=2": there is no rule "keep"/],
    ['last=3 daily', /"daily" is not RULE=N/],
    ['last:3', /"last:3" is not RULE=N/],
    ['daily=-1', /"daily=-1": daily must be a whole number from 1 to 10000/],
    ['daily=1.5', /"daily=1\.5": daily must be a whole number from 1 to 10000/],
    ['last=3 daily=0', /"daily=0": daily must be a whole number from 1 to 10000/],
    ['weekly=x', /"weekly=x": weekly must be a whole number/],
    ['monthly=10001', /"monthly=10001": monthly must be a whole number from 1 to 10000/],
    ['last=3d', /"last=3d": last must be a whole number/],
    ['maxage=0', /"maxage=0": maxage must be a whole number from 1 to 100000 \(days\)/],
    ['maxage=1y', /"maxage=1y": maxage must be/],
    ['last=3 daily=2 last=4', /"last=4": last is given twice/],
    ['last=0 daily=0', /"last=0": last must be a whole number from 1 to 10000/],
  ])('refuses %j, naming the bad token', (spec, message) => {
    expect(() => parseRetentionSpec(spec)).toThrow(UsageError);
    expect(() => parseRetentionSpec(spec)).toThrow(message);
    expect(() => parseRetentionSpec(spec)).toThrow(/write it like "last=3 daily=14 weekly=8 monthly=12 yearly=2 maxage=365"$/);
  });

  it('writes a policy back the way the spec is written', () => {
    expect(formatRetention({ maxAgeDays: 30, keepLast: 3, weekly: 2 })).toBe('last=3 weekly=2 maxage=30');
    expect(formatRetention(parseRetentionSpec('yearly=2 daily=14'))).toBe('daily=14 yearly=2');
  });
});

describe('other destination arguments', () => {
  it('--part P --of N are 1-based and go together', () => {
    expect(verifySubset({})).toBeUndefined();
    expect(verifySubset({ part: 1, of: 7 })).toEqual({ part: 0, of: 7 });
    expect(verifySubset({ part: 7, of: 7 })).toEqual({ part: 6, of: 7 });
    expect(() => verifySubset({ part: 2 })).toThrow(/--part and --of go together/);
    expect(() => verifySubset({ of: 2 })).toThrow(/--part and --of go together/);
    expect(() => verifySubset({ part: 8, of: 7 })).toThrow(/--part 8 is beyond --of 7; give a part from 1 to 7/);
  });

  it('names and paths are checked against the API schema', () => {
    expect(validateDestinationName('nas-1.backup_2')).toBe('nas-1.backup_2');
    expect(() => validateDestinationName('-nas')).toThrow(/invalid destination name "-nas": destination names may contain/);
    expect(() => validateDestinationName('a/b')).toThrow(UsageError);
    expect(validateDestinationPath('/mnt/nas/vplus')).toBe('/mnt/nas/vplus');
    expect(() => validateDestinationPath('mnt/nas')).toThrow(/--path "mnt\/nas": the path must be absolute/);
  });

  it('--s3 splits the endpoint, the bucket and the prefix; s3:// means AWS', () => {
    expect(parseS3Url('https://127.0.0.1:7480/backups/office/vplus/')).toEqual({ endpoint: 'https://127.0.0.1:7480', bucket: 'backups', prefix: 'office/vplus' });
    expect(parseS3Url('http://minio.lan:9000/b1')).toEqual({ endpoint: 'http://minio.lan:9000', bucket: 'b1', prefix: '' });
    expect(parseS3Url('s3://my-bucket/a/b')).toEqual({ bucket: 'my-bucket', prefix: 'a/b' });
    expect(parseS3Url('s3://my-bucket')).toEqual({ bucket: 'my-bucket', prefix: '' });
    expect(() => parseS3Url('ftp://host/b1')).toThrow(/must be http:\/\/ or https:\/\//);
    expect(() => parseS3Url('https://AK:SECRET@host/b1')).toThrow(/no query, fragment or credentials/);
    expect(() => parseS3Url('not a url')).toThrow(/give the endpoint URL followed by the bucket/);
  });
});

/** CLI.md: usage errors exit 2, with one sentence on stderr, nothing on stdout, and no request. */
describe('destination and backup usage errors exit 2', () => {
  const cases: [string, string[], RegExp][] = [
    ['add without --node', ['destination', 'add', 'nas', '--path', '/mnt/nas'], /required option '--node <node>'/],
    ['add without --path', ['destination', 'add', 'nas', '--node', 'n1'], /give either --path DIR \(a directory on the node\) or --s3 URL\/BUCKET/],
    ['add with --path and --s3', ['destination', 'add', 'nas', '--node', 'n1', '--path', '/mnt/nas', '--s3', 'https://s3.example.com/b1'], /give either --path DIR/],
    ['add with an S3 option on a directory', ['destination', 'add', 'nas', '--node', 'n1', '--path', '/mnt/nas', '--path-style'], /--path-style is for S3 destinations \(with --s3\)/],
    ['add --s3 without --access-key', ['destination', 'add', 'nas', '--node', 'n1', '--s3', 'https://s3.example.com/b1', '--secret-key-file', '-'], /--s3 needs --access-key KEY/],
    ['add --s3 without --secret-key-file', ['destination', 'add', 'nas', '--node', 'n1', '--s3', 'https://s3.example.com/b1', '--access-key', 'AK'], /--s3 needs --secret-key-file FILE \(or - for stdin\)/],
    ['add --s3 with a bad bucket', ['destination', 'add', 'nas', '--node', 'n1', '--s3', 'https://s3.example.com/Bad_Bucket', '--access-key', 'AK', '--secret-key-file', '-'], /--s3 \(the bucket\): bucket must be 3-63 characters/],
    ['add --s3 without a bucket', ['destination', 'add', 'nas', '--node', 'n1', '--s3', 'https://s3.example.com/', '--access-key', 'AK', '--secret-key-file', '-'], /the bucket is missing after the endpoint/],
    ['add --s3 with --lock but no days', ['destination', 'add', 'nas', '--node', 'n1', '--s3', 's3://b1', '--access-key', 'AK', '--secret-key-file', '-', '--lock', 'governance'], /--lock needs --lock-days N/],
    ['add --s3 with a bad lock mode', ['destination', 'add', 'nas', '--node', 'n1', '--s3', 's3://b1', '--access-key', 'AK', '--secret-key-file', '-', '--lock', 'strict', '--lock-days', '3'], /--lock "strict": give governance or compliance/],
    ['add --s3 with a missing secret key file', ['destination', 'add', 'nas', '--node', 'n1', '--s3', 's3://b1', '--access-key', 'AK', '--secret-key-file', '/nonexistent/secret'], /cannot read --secret-key-file \/nonexistent\/secret: no such file/],
    ['add --s3 with the secret and the password both on stdin', ['destination', 'add', 'nas', '--node', 'n1', '--s3', 's3://b1', '--access-key', 'AK', '--secret-key-file', '-', '--password-stdin'], /both read stdin/],
    ['add with a relative path', ['destination', 'add', 'nas', '--node', 'n1', '--path', 'nas'], /--path "nas": the path must be absolute/],
    ['add with a bad name', ['destination', 'add', 'my nas', '--node', 'n1', '--path', '/mnt/nas'], /invalid destination name "my nas"/],
    ['rename to a bad name', ['destination', 'rename', 'nas', 'new/name'], /invalid new name "new\/name"/],
    ['prune without --retention', ['destination', 'prune', 'nas'], /required option '--retention <spec>'/],
    ['prune with a bad rule', ['destination', 'prune', 'nas', '--retention', 'last=3 dayly=14'], /--retention: "dayly=14": there is no rule "dayly"/],
    ['prune with a bad number', ['destination', 'prune', 'nas', '--retention', 'daily=two', '--dry-run'], /"daily=two": daily must be a whole number/],
    ['verify with --part alone', ['destination', 'verify', 'nas', '--part', '1'], /--part and --of go together/],
    ['verify with --part beyond --of', ['destination', 'verify', 'nas', '--part', '3', '--of', '2'], /--part 3 is beyond --of 2/],
    ['verify with --of 0', ['destination', 'verify', 'nas', '--part', '1', '--of', '0'], /--of must be a whole number from 1 to 1000/],
    ['gc with negative grace', ['destination', 'gc', 'nas', '--grace-hours', '-1'], /--grace-hours must be a number of hours from 0 to 8760/],
    ['gc with too much grace', ['destination', 'gc', 'nas', '--grace-hours', '9000'], /--grace-hours must be a number of hours/],
    ['remove without a name', ['destination', 'remove'], /missing required argument 'name'/],
    ['backup list with --limit 0', ['backup', 'list', '--limit', '0'], /--limit must be a whole number from 1 to 1000/],
    ['backup list with two VMs', ['backup', 'list', 'a', 'b'], /too many arguments/],
  ];

  for (const [what, argv, message] of cases) {
    it(`for ${what}`, async () => {
      // A server that is not there: a usage error must come before any connection.
      const port = await unusedPort();
      const run = await runVplus(argv, { env: { VPLUS_SERVER: `https://127.0.0.1:${port}`, VPLUS_FINGERPRINT: 'ab'.repeat(32), VPLUS_TOKEN: 't' }, stdin: 'password-1\n' });
      expect(run.stderr).toMatch(message);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
    });
  }
});
