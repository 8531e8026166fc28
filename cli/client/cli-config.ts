import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { CliError, errorMessage } from '../errors.js';

/**
 * The client's remembered session: server URL, pinned certificate fingerprint,
 * bearer token and the user it belongs to. Unknown keys are kept, so an older
 * CLI rewriting the file does not drop what a newer one stored.
 */
export const CliConfigSchema = z.looseObject({
  server: z.string().optional(),
  fingerprint: z.string().optional(),
  token: z.string().optional(),
  user: z.string().optional(),
  expiresAt: z.string().optional(),
});
export type CliConfig = z.infer<typeof CliConfigSchema>;

/** $VPLUS_CONFIG, else $XDG_CONFIG_HOME/vplus/cli.json, else ~/.config/vplus/cli.json. */
export function cliConfigPath(env: Readonly<Record<string, string | undefined>>, homedir: string): string {
  if (env.VPLUS_CONFIG) return path.resolve(env.VPLUS_CONFIG);
  // The XDG spec says relative values are invalid and must be ignored.
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(homedir, '.config');
  return path.join(base, 'vplus', 'cli.json');
}

/** The stored config, or an empty one when the file does not exist yet. */
export async function readCliConfig(file: string): Promise<CliConfig> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CliError(`cannot read ${file}: ${errorMessage(err)}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new CliError(`${file} is not valid JSON; fix it or delete it and run vplus login again`);
  }
  const parsed = CliConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new CliError(`${file} is not a vplus client config; fix it or delete it and run vplus login again`);
  }
  return parsed.data;
}

/**
 * Writes the config so that it is never half-written nor readable by others:
 * a 0600 temp file in the same directory, fsync, rename over the old one, then
 * fsync the directory so the rename itself survives a crash. The directory is
 * created 0700.
 */
export async function writeCliConfig(file: string, config: CliConfig): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const handle = await fs.open(tmp, 'wx', 0o600);
    try {
      // The umask could only narrow 0600, but be explicit about the result.
      await handle.chmod(0o600);
      await handle.writeFile(`${JSON.stringify(config, null, 2)}\n`, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, file);
  } catch (err) {
    // Best effort: the temp file may never have been created; the error worth reporting is err.
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw new CliError(`cannot save the client config to ${file}: ${errorMessage(err)}`);
  }
  await syncDirectory(dir);
}

async function syncDirectory(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch (err) {
    // Some filesystems refuse fsync on a directory; the rename already happened.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') {
      throw new CliError(`saved ${dir}, but could not flush the directory to disk: ${errorMessage(err)}`);
    }
  } finally {
    await handle?.close();
  }
}
