#!/usr/bin/env node
// The `vplus` command: a shim that runs the compiled CLI from dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write(`error: the vplus CLI is not built (${fileURLToPath(entry)} is missing); run npm run build first\n`);
  process.exit(1);
}
await import(entry.href);
