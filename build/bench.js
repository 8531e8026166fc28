#!/usr/bin/env node
// `npm run bench`: builds the repository library (it imports nothing else of ours, so this
// works while other parts are mid-change) and runs its benchmark against restic and borg.
// `npm run bench -- format` runs the chunk-size / zstd-level measurements behind FORMAT.md.
// `npm run bench -- vm` backs up a running VM against virtnbdbackup and restic (root, libvirt;
// see node-service/platforms/kvm/bench/vm-bench.ts).
// `npm run bench -- m365-storage` stores a OneDrive-like tree of many small files through the
// M365 object store into packs (full, 1 % incremental, restore, verify, GC; see
// node-service/cloud/metadata/bench/m365-storage-bench.ts).
// `npm run bench -- m365` backs up a OneDrive of many files from the Graph emulator and restores
// 1,000 of them, against the read ceiling (see node-service/cloud/bench/m365-bench.ts).
// `npm run bench -- mount` browses files of a backed-up 4 GiB ext4 disk through a mount
// session against restoring it first (root, nbdfuse; see node-service/mount/bench/mount-bench.ts).
// `npm run bench -- s3` backs up a disk image to a throwaway local Ceph gateway against a
// directory, and restic to the same gateway (see tests/bench/s3-bench.ts).
// `npm run bench -- catalog` times every list endpoint, the dashboard and single objects of a
// server on the scale fixture (see electron/server/bench/catalog-bench.ts).
// Settings (VPLUS_BENCH_*): see each benchmark's header; the default one's are in
// node-service/repository/bench/repository-bench.ts.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const mode = process.argv[2] ?? 'tools';
const projects = {
  vm: 'node-service/platforms/kvm/bench/tsconfig.standalone.json',
  mount: 'node-service/mount/bench/tsconfig.standalone.json',
  catalog: 'electron/server/bench/tsconfig.standalone.json',
  'm365-storage': 'node-service/cloud/metadata/bench/tsconfig.standalone.json',
  m365: 'node-service/cloud/bench/tsconfig.standalone.json',
  s3: 'tests/bench/tsconfig.standalone.json',
};
const project = Object.hasOwn(projects, mode) ? projects[mode] : 'node-service/repository/tsconfig.standalone.json';
const built = spawnSync(process.execPath, [tsc, '-p', path.join(root, project)], {
  stdio: 'inherit',
});
if (built.status !== 0) {
  process.stderr.write('bench: compiling the benchmark failed (see above)\n');
  process.exit(1);
}
const entry =
  mode === 'format'
    ? 'dist/node-service/repository/bench/format-measurement.js'
    : mode === 'vm'
      ? 'dist/node-service/platforms/kvm/bench/vm-bench.js'
      : mode === 'mount'
        ? 'dist/node-service/mount/bench/mount-bench.js'
        : mode === 'catalog'
          ? 'dist/electron/server/bench/catalog-bench.js'
          : mode === 'm365-storage'
            ? 'dist/node-service/cloud/metadata/bench/m365-storage-bench.js'
            : mode === 'm365'
              ? 'dist/node-service/cloud/bench/m365-bench.js'
              : mode === 's3'
                ? 'dist/tests/bench/s3-bench.js'
                : 'dist/node-service/repository/bench/repository-bench.js';
const mod = await import(pathToFileURL(path.join(root, entry)).href);
await (mode === 'format'
  ? mod.measureFormat()
  : mode === 'vm'
    ? mod.runVmBenchmark()
    : mode === 'mount'
      ? mod.runMountBenchmark()
      : mode === 'catalog'
        ? mod.runCatalogBenchmark()
        : mode === 'm365-storage'
          ? mod.runM365StorageBenchmark()
          : mode === 'm365'
            ? mod.runM365Benchmark()
            : mode === 's3'
              ? mod.runS3Benchmark()
              : mod.runBenchmark());
