#!/usr/bin/env node
// `npm run seed:scale`: compiles the scale fixture and what it imports (the catalog modules only,
// so it works while other parts are mid-change) and fills a catalog with it; see
// electron/server/bench/seed-scale.ts for the options (`npm run seed:scale -- --help`).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const built = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'electron/server/bench/tsconfig.seed.json')], { stdio: 'inherit' });
if (built.status !== 0) {
  process.stderr.write('seed:scale: compiling the fixture failed (see above)\n');
  process.exit(1);
}
const mod = await import(pathToFileURL(path.join(root, 'dist/electron/server/bench/seed-scale.js')).href);
try {
  await mod.seedScale(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`seed:scale: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
