/**
 * A real S3 gateway for tests (issue 19): a throwaway single-node Ceph cluster — one monitor,
 * one OSD on memstore (RAM, bounded) or on BlueStore over a sparse file, and the RADOS
 * Gateway on 127.0.0.1 — everything in one temp dir with its own conf file, fsid, ports,
 * admin sockets and logs, so several test files can each run one at once. Nothing under
 * /etc/ceph, /var/lib/ceph or /var/run/ceph is read or written.
 *
 * Settings that matter (each found the hard way, see issue 19): auth off, pools of size 1,
 * `ms mon client mode = crc` (or the gateway never connects to the monitor), `paxos propose
 * interval = 0.1` (or each first write to a new pool stalls ~1 s), tcp_nodelay on beast.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  CreateBucketCommand,
  PutBucketVersioningCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { S3_BUCKET_RE, type S3Repository } from '../../common/s3-location.js';
import { freePort } from './net.js';
import { requireBinary } from './requirements.js';

const exec = promisify(execFile);
const INSTALL = 'sudo apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw ceph-common';
const REGION = 'us-east-1';

export interface S3Keys {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface CephGatewayOptions {
  /** Serve HTTPS (beast ssl_endpoint) with a certificate for 127.0.0.1 signed by a throwaway CA (`caPem`). */
  tls?: boolean;
  /** memstore (default): objects in RAM, up to `storeBytes`; bluestore: a sparse file of `storeBytes` in the temp dir. */
  store?: 'memstore' | 'bluestore';
  /** Capacity of the OSD; memstore's is RAM, so keep it modest. Default 4 GiB. */
  storeBytes?: number;
  /** Where the cluster's temp dir goes (default: the OS temp dir); keep it short, admin socket paths are limited to 107 bytes. */
  parentDir?: string;
}

export interface GatewayRequest {
  method: string;
  /** The request target as logged ("/bucket/key?uploads"). */
  target: string;
  status: number;
}

export interface CephGateway {
  /** http(s)://127.0.0.1:PORT */
  endpoint: string;
  region: string;
  /** The owner of every bucket made with createBucket. */
  accessKeyId: string;
  secretAccessKey: string;
  /** A second user (its own keys, owns nothing): for "no permission" tests. */
  other: S3Keys & { uid: string; arn: string };
  /** When tls: the CA that signed the gateway's certificate (PEM). */
  caPem?: string;
  /** The temp dir holding the cluster (logs in dir/log). */
  dir: string;
  createBucket(name: string, opts?: { objectLock?: boolean; versioning?: boolean }): Promise<void>;
  /** A path-style client for the owner (or `keys`), trusting `caPem` when tls. */
  client(keys?: S3Keys): S3Client;
  /** Where a repository at bucket/prefix lives, with the owner's keys, as the product gets it. */
  location(bucket: string, extra?: Partial<S3Repository>): S3Repository;
  /** A new user with fresh keys. */
  createUser(uid: string): Promise<S3Keys & { uid: string; arn: string }>;
  /** Requests the gateway has answered so far (beast's access log, flushed first), oldest first. */
  requests(): Promise<GatewayRequest[]>;
  /** Stops only radosgw (the cluster stays): "gateway gone mid-backup". */
  stopGateway(): Promise<void>;
  /** Starts radosgw again on the same port and waits until it answers. */
  startGateway(): Promise<void>;
  /** Stops every daemon and removes the temp dir. */
  stop(): Promise<void>;
}

/** Every Ceph daemon this process started, killed on exit if a test forgot stop(). */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

export function requireCeph(): void {
  for (const bin of ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'monmaptool']) requireBinary([`/usr/bin/${bin}`], INSTALL);
  requireBinary(['/usr/bin/ceph'], INSTALL);
}

async function run(file: string, args: string[], timeoutMs = 30_000): Promise<string> {
  try {
    const { stdout } = await exec(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C' } });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string; killed?: boolean };
    const why = e.killed ? `timed out after ${timeoutMs} ms` : e.stderr?.trim() || e.message;
    throw new Error(`${file} ${args.join(' ')} failed: ${why}`);
  }
}

function conf(dir: string, fsid: string, monPort: number, rgwPort: number, o: { tls: boolean; store: 'memstore' | 'bluestore'; storeBytes: number }): string {
  const frontend = o.tls
    ? `beast ssl_endpoint=127.0.0.1:${rgwPort} ssl_certificate=${dir}/tls/cert.pem ssl_private_key=${dir}/tls/key.pem tcp_nodelay=1`
    : `beast endpoint=127.0.0.1:${rgwPort} tcp_nodelay=1`;
  const store =
    o.store === 'memstore'
      ? [`osd objectstore = memstore`, `memstore device bytes = ${o.storeBytes}`]
      : [
          `osd objectstore = bluestore`,
          `bluestore block path = ${dir}/osd-block`,
          `bluestore block create = true`,
          `bluestore block size = ${o.storeBytes}`,
          `bluestore block db create = false`,
          `bluestore block wal create = false`,
          `bluestore cache autotune = false`,
          `bluestore cache size = 268435456`,
          `osd memory target = 939524096`,
        ];
  return `[global]
fsid = ${fsid}
mon host = v2:127.0.0.1:${monPort}
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
ms mon client mode = crc
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
keyring = /dev/null
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
run dir = ${dir}/run
admin socket = ${dir}/run/$cluster-$name.$pid.asok
log file = ${dir}/log/$cluster-$name.log
crash dir = ${dir}/crash
exporter sock dir = ${dir}/run
log to stderr = false
err to stderr = false

[mon]
mon data = ${dir}/mon
paxos propose interval = 0.1
mon data avail warn = 1
mon data avail crit = 0

[osd]
osd data = ${dir}/osd
${store.join('\n')}
osd max object name len = 256
osd max object namespace len = 64

[client]
rgw frontends = ${frontend}
rgw data = ${dir}/rgw
rgw thread pool size = 64
rgw dns name = 127.0.0.1
`;
}

/** A CA and a certificate for 127.0.0.1 it signed (SAN IP:127.0.0.1 only, so "localhost" is a name mismatch). */
async function makeTls(dir: string): Promise<string> {
  const t = path.join(dir, 'tls');
  fs.mkdirSync(t, { recursive: true });
  const ossl = (args: string[]): Promise<string> => run('openssl', args);
  await ossl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=vPlus test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', `${t}/ca.key`, '-out', `${t}/ca.pem`]);
  await ossl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', `${t}/key.pem`, '-out', `${t}/req.pem`]);
  fs.writeFileSync(`${t}/ext.cnf`, 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  await ossl(['x509', '-req', '-in', `${t}/req.pem`, '-CA', `${t}/ca.pem`, '-CAkey', `${t}/ca.key`, '-CAcreateserial', '-days', '2', '-extfile', `${t}/ext.cnf`, '-out', `${t}/cert.pem`]);
  return fs.readFileSync(`${t}/ca.pem`, 'utf8');
}

/** Resolves once `url` answers HTTP at all (any status), rejecting if `child` exits first or `timeoutMs` passes. */
async function waitForHttp(url: string, child: ChildProcess, logFile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: number | null | undefined;
  const onExit = (code: number | null): void => {
    exited = code;
  };
  child.once('exit', onExit);
  try {
    for (;;) {
      if (exited !== undefined) throw new Error(`radosgw exited (${exited}) before answering; its log: ${tail(logFile)}`);
      const answered = await new Promise<boolean>((resolve) => {
        const mod = url.startsWith('https:') ? https : http;
        const req = mod.get(url, { rejectUnauthorized: false, timeout: 1000 }, (res) => {
          res.resume();
          resolve(true);
        });
        req.on('error', () => resolve(false));
        req.on('timeout', () => req.destroy());
      });
      if (answered) return;
      if (Date.now() > deadline) throw new Error(`radosgw did not answer at ${url} within ${timeoutMs} ms; its log: ${tail(logFile)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    child.off('exit', onExit);
  }
}

function tail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return `(no log at ${file})`;
  }
}

async function terminate(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    live.delete(child);
    return;
  }
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
  live.delete(child);
}

/**
 * A watchdog that outlives this process only to clean up after it: when the test process dies
 * without stop() (a killed worker, a crash), it kills the cluster's daemons (the pids listed
 * in dir/run/*.watch) and removes the dir, so no memstore keeps holding RAM.
 */
function startWatchdog(dir: string): ChildProcess {
  const script = `parent=$1; dir=$2
while kill -0 "$parent" 2>/dev/null; do sleep 1; done
for f in "$dir"/run/*.watch; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
sleep 1; rm -rf "$dir"`;
  const dog = spawn('sh', ['-c', script, 'vplus-ceph-watchdog', String(process.pid), dir], { detached: true, stdio: 'ignore' });
  dog.unref();
  return dog;
}

const PORT_TAKEN = 'Address already in use';

/** Starts a throwaway Ceph cluster with a RADOS Gateway; resolves when the gateway answers S3 with keys ready. */
export async function startCephGateway(opts: CephGatewayOptions = {}): Promise<CephGateway> {
  requireCeph();
  installExitHook();
  // A port found free can be taken by another test before a daemon binds it: then try new ones.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      if (attempt >= 3 || !(err instanceof Error) || !err.message.includes(PORT_TAKEN)) throw err;
    }
  }
}

async function startOnce(opts: CephGatewayOptions): Promise<CephGateway> {
  const o = { tls: opts.tls ?? false, store: opts.store ?? 'memstore', storeBytes: opts.storeBytes ?? 4 * 1024 ** 3 } as const;
  // Short base: admin socket paths must fit in a sockaddr_un (108 bytes).
  const dir = fs.mkdtempSync(path.join(opts.parentDir ?? os.tmpdir(), 'vplus-ceph-'));
  for (const d of ['mon', 'osd', 'run', 'log', 'rgw', 'crash']) fs.mkdirSync(path.join(dir, d));
  const children: ChildProcess[] = [];
  let rgw: ChildProcess | undefined;
  const confFile = path.join(dir, 'ceph.conf');
  const base = ['-c', confFile];

  const watchdog = startWatchdog(dir);

  const daemon = (file: string, args: string[]): ChildProcess => {
    const out = fs.openSync(path.join(dir, 'log', `${path.basename(file)}.out`), 'a');
    const child = spawn(file, [...base, '-f', ...args], { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    live.add(child);
    children.push(child);
    if (child.pid !== undefined) {
      const watch = path.join(dir, 'run', `${child.pid}.watch`);
      fs.writeFileSync(watch, String(child.pid));
      child.once('exit', () => fs.rmSync(watch, { force: true }));
    }
    return child;
  };
  const stopAll = async (): Promise<void> => {
    watchdog.kill('SIGKILL');
    // The gateway first (it talks to the OSD), then the OSD, then the monitor.
    for (const child of [...children].reverse()) await terminate(child);
    fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    const fsid = randomUUID();
    const monPort = await freePort();
    const rgwPort = await freePort();
    const caPem = o.tls ? await makeTls(dir) : undefined;
    fs.writeFileSync(confFile, conf(dir, fsid, monPort, rgwPort, o));

    await run('monmaptool', ['--create', '--clobber', '--fsid', fsid, '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, path.join(dir, 'monmap')]);
    await run('ceph-mon', [...base, '--mkfs', '-i', 'a', '--monmap', path.join(dir, 'monmap')]);
    daemon('/usr/bin/ceph-mon', ['-i', 'a']);

    const osdUuid = randomUUID();
    // The first `ceph` call also waits for the monitor to form its quorum of one.
    const id = (await run('ceph', [...base, '--connect-timeout', '20', 'osd', 'new', osdUuid], 30_000)).trim();
    if (id !== '0') throw new Error(`ceph osd new gave id ${id}, expected 0`);
    await run('ceph-osd', [...base, '-i', '0', '--mkfs', '--osd-uuid', osdUuid], 60_000).catch((err: Error) => {
      throw new Error(`${err.message}; the OSD's log: ${tail(path.join(dir, 'log', 'ceph-osd.0.log'))}`);
    });
    daemon('/usr/bin/ceph-osd', ['-i', '0']);

    const endpoint = `${o.tls ? 'https' : 'http'}://127.0.0.1:${rgwPort}`;
    const rgwLog = path.join(dir, 'log', 'ceph-client.rgw.log');
    const startRgw = async (): Promise<void> => {
      rgw = daemon('/usr/bin/radosgw', ['-n', 'client.rgw']);
      await waitForHttp(endpoint, rgw, rgwLog, 60_000);
    };
    // radosgw creates its pools on first start: it waits for the OSD by itself.
    await startRgw();

    const admin = (args: string[]): Promise<string> => run('radosgw-admin', [...base, '-n', 'client.admin', ...args], 30_000);
    const createUser = async (uid: string): Promise<S3Keys & { uid: string; arn: string }> => {
      const keys = { accessKeyId: `VP${randomBytes(9).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(24).toString('base64url') };
      await admin(['user', 'create', `--uid=${uid}`, `--display-name=${uid}`, `--access-key=${keys.accessKeyId}`, `--secret-key=${keys.secretAccessKey}`]);
      return { ...keys, uid, arn: `arn:aws:iam:::user/${uid}` };
    };
    const owner = await createUser('vplus-owner');
    const other = await createUser('vplus-other');

    const client = (keys: S3Keys = owner): S3Client => {
      const cfg: S3ClientConfig = {
        endpoint,
        region: REGION,
        forcePathStyle: true,
        credentials: { accessKeyId: keys.accessKeyId, secretAccessKey: keys.secretAccessKey },
        // Ceph 16 knows neither the flexible checksums nor aws-chunked trailers the SDK sends by default.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        maxAttempts: 1,
      };
      if (caPem) cfg.requestHandler = new NodeHttpHandler({ httpsAgent: new https.Agent({ ca: caPem, keepAlive: true }) });
      return new S3Client(cfg);
    };

    return {
      endpoint,
      region: REGION,
      accessKeyId: owner.accessKeyId,
      secretAccessKey: owner.secretAccessKey,
      other,
      caPem,
      dir,
      createUser,
      client,
      location: (bucket, extra = {}) => ({
        endpoint,
        region: REGION,
        bucket,
        prefix: '',
        forcePathStyle: true,
        accessKeyId: owner.accessKeyId,
        secretAccessKey: owner.secretAccessKey,
        ...(caPem ? { caPem } : {}),
        ...extra,
      }),
      async createBucket(name, bopts = {}) {
        if (!S3_BUCKET_RE.test(name)) throw new Error(`createBucket: bucket name ${JSON.stringify(name)} is not valid (3-63 characters: lower-case letters, digits, "." and "-")`);
        const s3 = client();
        try {
          await s3.send(new CreateBucketCommand({ Bucket: name, ObjectLockEnabledForBucket: bopts.objectLock || undefined }));
          if (bopts.versioning && !bopts.objectLock) await s3.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }));
        } finally {
          s3.destroy();
        }
      },
      async requests() {
        // The log is written by a thread of its own: flush it through the admin socket first.
        if (rgw?.pid !== undefined) await run('ceph', ['--admin-daemon', path.join(dir, 'run', `ceph-client.rgw.${rgw.pid}.asok`), 'log', 'flush'], 15_000);
        // beast's access log line: `beast: 0x… : 127.0.0.1 - user [date] "PUT /b/k HTTP/1.1" 200 …`
        const out: GatewayRequest[] = [];
        let text = '';
        try {
          text = fs.readFileSync(rgwLog, 'utf8');
        } catch {
          return out;
        }
        for (const m of text.matchAll(/ beast: 0x[0-9a-f]+: \S+ - \S* \[[^\]]*\] "(\S+) (\S+) [^"]*" (\d{3}) /g)) {
          out.push({ method: m[1]!, target: m[2]!, status: Number(m[3]) });
        }
        return out;
      },
      async stopGateway() {
        if (rgw) await terminate(rgw);
        rgw = undefined;
      },
      async startGateway() {
        if (rgw) return;
        await startRgw();
      },
      stop: stopAll,
    };
  } catch (err) {
    const taken = logsMention(path.join(dir, 'log'), PORT_TAKEN);
    await stopAll();
    if (taken && err instanceof Error) err.message += ` (${PORT_TAKEN})`;
    throw err;
  }
}

function logsMention(logDir: string, text: string): boolean {
  try {
    return fs.readdirSync(logDir).some((f) => fs.readFileSync(path.join(logDir, f), 'utf8').includes(text));
  } catch {
    return false; // no logs yet: nothing to look for
  }
}
