/**
 * `npm run bench -- m365`: the cloud agent against the Graph emulator of the tests (HTTPS on
 * loopback, its own CA): a OneDrive of many files, mostly small, some large — the read
 * ceiling (delta + every download, nothing stored), a full backup into an encrypted
 * repository on local disk (items/s, MB/s, files on the destination, peak memory), an
 * incremental with 1 % changed (requests made, time), and a restore of 1,000 files to
 * another user. The emulator runs in this process, so its CPU counts against ours.
 *
 * Then the mail phase (m365-mail-bench.ts): a mailbox's full and incremental backups and
 * searches across it.
 *
 * Settings (environment):
 *   VPLUS_BENCH_M365_PARTS  which phases, "drive,mail" (default) or either
 *   VPLUS_BENCH_M365_FILES  number of files (default 20000)
 *   VPLUS_BENCH_M365_MB     total size in MB, roughly (default 2048; half in 20 large files)
 *   VPLUS_BENCH_DIR         where the repository goes (default: the OS temp dir)
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { Repository } from '../../repository/index.js';
import { backupDrive } from '../drive-backup.js';
import { restoreDrive } from '../drive-restore.js';
import { downloadItem } from '../graph/download.js';
import { driveDelta } from '../graph/drive-items.js';
import { Semaphore } from '../graph/limits.js';
import { TenantSession } from '../graph/tenant-session.js';
import { GraphEmulator } from '../../../tests/support/graph-emulator/index.js';
import { runMailBenchmark } from './m365-mail-bench.js';
import { env, MB, MIB, measured } from './bench-util.js';


async function filesUnder(dir: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    files++;
    bytes += (await stat(path.join(e.parentPath, e.name))).size;
  }
  return { files, bytes };
}

export async function runM365Benchmark(): Promise<void> {
  const parts = (process.env.VPLUS_BENCH_M365_PARTS ?? 'drive,mail').split(',').map((p) => p.trim());
  const out = (s: string): void => void process.stdout.write(`${s}\n`);
  if (parts.includes('drive')) await runDriveBenchmark();
  if (parts.includes('mail')) await runMailBenchmark(out);
}

async function runDriveBenchmark(): Promise<void> {
  const count = env('VPLUS_BENCH_M365_FILES', 20_000);
  const totalMB = env('VPLUS_BENCH_M365_MB', 2048);
  const large = Math.min(20, Math.max(1, Math.floor(count / 1000)));
  const largeSize = Math.floor((totalMB * MB) / 2 / large);
  const smallAvg = Math.max(1, Math.floor((totalMB * MB) / 2 / (count - large)));
  const out = (s: string): void => void process.stdout.write(`${s}\n`);
  out(`# m365 benchmark: ${count} files, ~${totalMB} MB (${large} of ${(largeSize / MIB).toFixed(0)} MiB, the rest ~${(smallAvg / 1024).toFixed(0)} KiB average); load ${loadavg()[0]?.toFixed(2)}`);

  const emu = await GraphEmulator.start();
  const tenant = emu.addTenant({ domain: 'bench.onmicrosoft.com' });
  const app = tenant.addApp({ secret: 'bench' });
  tenant.addUser({ userPrincipalName: 'alice@bench.onmicrosoft.com' });
  tenant.addUser({ userPrincipalName: 'bob@bench.onmicrosoft.com' });
  const alice = tenant.driveOf('alice@bench.onmicrosoft.com');
  const bob = tenant.driveOf('bob@bench.onmicrosoft.com');
  const seed: Record<string, { size: number; seed: string }> = {};
  let seeded = 0;
  for (let i = 0; i < count - large; i++) {
    // Sizes spread from 1/8 to 15/8 of the average, folders of 200 files, 5 folders per parent.
    const size = Math.max(1, Math.floor(smallAvg * (0.125 + ((i * 7919) % 16) / 8.5)));
    seed[`F${Math.floor(i / 1000)}/D${Math.floor(i / 200) % 5}/file-${i}.dat`] = { size, seed: `s${i}` };
    seeded += size;
  }
  for (let i = 0; i < large; i++) {
    seed[`Large/big-${i}.bin`] = { size: largeSize, seed: `L${i}` };
    seeded += largeSize;
  }
  alice.seed(seed);
  global.gc?.();
  // The emulator shares this process: its model of the drives is part of every RSS below.
  out(`seeded ${count} files, ${(seeded / MB).toFixed(0)} MB; RSS with the emulator seeded ${Math.round(process.memoryUsage().rss / MIB)} MiB`);

  const session = new TenantSession({ tenantId: tenant.id, clientId: app.clientId, credential: { kind: 'secret', secret: 'bench' }, authorityHost: emu.authorityHost, graphUrl: emu.graphBaseUrl, caPem: emu.caPem });
  const base = await mkdtemp(path.join(process.env.VPLUS_BENCH_DIR ?? tmpdir(), 'vplus-m365-bench-'));
  const repoPath = path.join(base, 'repo');
  const repo = await Repository.init(repoPath, { password: 'bench password' });
  const owner = 'alice@bench.onmicrosoft.com';
  const drivePath = `/drives/${alice.id}`;
  const objectKey = `m365:${tenant.id}:drive:${alice.id}`;
  try {
    // The read ceiling: the same enumeration and downloads, nothing stored.
    const ceiling = await measured(async () => {
      const slots = new Semaphore(4);
      const running: Promise<void>[] = [];
      let bytes = 0;
      for await (const e of driveDelta(session.graph, drivePath, null, { what: 'enumerate', owner })) {
        if (e.kind !== 'items') continue;
        for (const item of e.items) {
          if (!item.file) continue;
          const release = await slots.acquire();
          running.push(
            downloadItem(session.graph, `${drivePath}/items/${item.id}/content`, { what: 'download', owner }, (c) => void (bytes += c.length), item['@microsoft.graph.downloadUrl']).then(() => release(), (err: unknown) => {
              release();
              throw err;
            }),
          );
        }
      }
      await Promise.all(running);
      return bytes;
    });
    out(`read ceiling (delta + downloads to nowhere): ${ceiling.seconds.toFixed(1)} s, ${(ceiling.value / MB / ceiling.seconds).toFixed(1)} MB/s, ${(count / ceiling.seconds).toFixed(0)} files/s`);

    emu.traffic.reset();
    const full = await measured(() => backupDrive({ graph: session.graph, repo, objectKey, drivePath, owner, label: 'bench', workDir: path.join(base, 'work') }));
    const onDisk = await filesUnder(repoPath);
    out(
      `full backup: ${full.seconds.toFixed(1)} s, ${(full.value.items / full.seconds).toFixed(0)} items/s, ${(full.value.downloadedBytes / MB / full.seconds).toFixed(1)} MB/s ` +
        `(${((full.value.downloadedBytes / MB / full.seconds) / (ceiling.value / MB / ceiling.seconds)).toFixed(2)}× the ceiling); peak RSS ${full.peakRssMiB} MiB; ` +
        `destination ${onDisk.files} files, ${(onDisk.bytes / MB).toFixed(0)} MB (${(onDisk.files / (seeded / (4 * MIB))).toFixed(2)} files per 4 MiB backed up, metadata and indexes included); requests ${emu.traffic.requests.length}; warnings ${full.value.warnings.length}`,
    );

    const changed = Math.max(1, Math.floor(count / 100));
    for (let i = 0; i < changed; i++) alice.editFile(`F${Math.floor((i * 97) / 1000)}/D${Math.floor((i * 97) / 200) % 5}/file-${i * 97}.dat`, `changed ${i}`);
    emu.traffic.reset();
    const inc = await measured(() => backupDrive({ graph: session.graph, repo, objectKey, drivePath, owner, label: 'bench', workDir: path.join(base, 'work') }));
    out(
      `incremental, ${changed} files changed: ${inc.seconds.toFixed(2)} s, ${emu.traffic.requests.length} requests (${inc.value.downloadedFiles} downloads), peak RSS ${inc.peakRssMiB} MiB, warnings ${inc.value.warnings.length}`,
    );

    emu.traffic.reset();
    const restored = await measured(() =>
      restoreDrive({ graph: session.graph, repo, objectKey, pointId: inc.value.pointId, workDir: path.join(base, 'restore'), paths: ['/F0'], target: { drivePath: `/drives/${bob.id}`, owner: 'bob@bench.onmicrosoft.com', label: 'bob' }, folder: 'Restore-bench', conflict: 'copy' }),
    );
    out(
      `restore of ${restored.value.restoredFiles} files (${(restored.value.restoredBytes / MB).toFixed(0)} MB) to another user: ${restored.seconds.toFixed(1)} s, ${(restored.value.restoredFiles / restored.seconds).toFixed(0)} files/s, ${emu.traffic.requests.filter((r) => r.batchOf === undefined).length} requests (${emu.traffic.requests.filter((r) => r.batchOf !== undefined).length} more inside $batch calls), failed ${restored.value.failed.length}`,
    );
  } finally {
    await session.close();
    await repo.close();
    await emu.stop();
    await rm(base, { recursive: true, force: true });
  }
}
