import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface AppInfo {
  version: string;
  /** The directory holding package.json (the repository, or the packaged app). */
  root: string;
}

/** Finds our package.json by walking up from this file, so it works from source and from dist/. */
export function readAppInfo(from = path.dirname(fileURLToPath(import.meta.url))): AppInfo {
  let dir = from;
  for (;;) {
    const candidate = path.join(dir, 'package.json');
    if (fs.existsSync(candidate)) {
      const pkg = JSON.parse(fs.readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'vplus-desktop') return { version: pkg.version ?? '0.0.0', root: dir };
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the vplus-desktop package.json above ' + from);
    dir = parent;
  }
}
