#!/usr/bin/env node
// `npm run bench`: builds the repository library (it imports nothing else of ours, so this
// works while other parts are mid-change) and runs its benchmark against restic and borg.
// `npm run bench -- format` runs the chunk-size / zstd-level measurements behind FORMAT.md.
// Settings: see node-service/repository/bench/repository-bench.ts (VPLUS_BENCH_*).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const built = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'node-service/repository/tsconfig.standalone.json')], {
  stdio: 'inherit',
});
if (built.status !== 0) {
  process.stderr.write('bench: compiling the repository library failed (see above)\n');
  process.exit(1);
}
const mode = process.argv[2] ?? 'tools';
const entry =
  mode === 'format'
    ? 'dist/node-service/repository/bench/format-measurement.js'
    : 'dist/node-service/repository/bench/repository-bench.js';
const mod = await import(pathToFileURL(path.join(root, entry)).href);
await (mode === 'format' ? mod.measureFormat() : mod.runBenchmark());
