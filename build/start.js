// `npm start`: the desktop app when Electron's binary is installed, otherwise
// the same server headless through the CLI (`vplus server start`), so the
// product can be run and tested on machines where Electron cannot be.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

/** The Electron binary's path, or the reason there is none. */
function findElectron() {
  try {
    // The electron package exports the path of its binary (and throws when the download was skipped).
    const binary = require('electron');
    if (typeof binary === 'string' && fs.existsSync(binary)) return { binary };
    return { reason: `${binary} does not exist` };
  } catch (err) {
    return { reason: err instanceof Error ? err.message.split('\n')[0] : String(err) };
  }
}

/** Runs a child with our stdio, passes our signals on, and exits with its status. */
function run(command, args) {
  const child = spawn(command, args, { cwd: root, stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    });
  }
  child.on('error', (err) => {
    process.stderr.write(`error: cannot start ${command}: ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    process.exit(code ?? (signal ? 128 + (signalNumbers[signal] ?? 0) : 1));
  });
}
const signalNumbers = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15, SIGKILL: 9 };

const electron = findElectron();
if (electron.binary) {
  if (!fs.existsSync(path.join(root, 'dist', 'electron', 'main', 'main.js'))) {
    process.stderr.write('error: the desktop app is not built (dist/electron/main/main.js is missing); run npm run build first\n');
    process.exit(1);
  }
  run(electron.binary, [root, ...process.argv.slice(2)]);
} else {
  const args = process.argv.slice(2);
  const port = portFrom(args) ?? 8181;
  process.stdout.write(
    `Electron's binary is not installed (${electron.reason}); starting the server headless on https://localhost:${port}\n`,
  );
  run(process.execPath, [path.join(root, 'bin', 'vplus.js'), 'server', 'start', ...args]);
}

function portFrom(args) {
  const i = args.findIndex((a) => a === '--port' || a.startsWith('--port='));
  if (i < 0) return undefined;
  return args[i].includes('=') ? args[i].split('=')[1] : args[i + 1];
}
