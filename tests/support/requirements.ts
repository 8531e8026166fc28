import fs from 'node:fs';

/**
 * Real components the suites need. A missing one fails the suite with the
 * command that installs it: nothing skips, in CI or elsewhere.
 */
export function requireBinary(paths: string[], installHint: string): string {
  for (const p of paths) if (fs.existsSync(p)) return p;
  throw new Error(`${paths[0]} is not installed; install it with: ${installHint} (or run the README's setup: bash build/setup.sh --test)`);
}

export const requireMariaDb = (): string =>
  requireBinary(['/usr/sbin/mariadbd', '/usr/bin/mariadbd'], 'sudo apt-get install -y mariadb-server');

export const requireChromium = (): string =>
  requireBinary(['/usr/bin/chromium', '/usr/bin/chromium-browser'], 'sudo apt-get install -y chromium');
