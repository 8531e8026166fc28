/**
 * The record of an open export, written before anything is started for it: a restarted node
 * ends what its dead predecessor left open from these records alone (stale-exports.ts). Each
 * export has a directory under the node's own work directory (`nbd-*` for a libvirt pull-mode
 * job, `off-*` for qemu-nbd) and its record beside it (`<dir>.json`), outside the directory QEMU
 * owns. Order: record, directory, then the job or server; at the end the reverse, record last,
 * so a crash at any point leaves a record that names everything there is to end.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { ProcessIdentity } from '../../repository/process-identity.js';

/** The node process that opened an export; only it (while it runs) or its node after it died may end it. */
export interface ExportOwner extends ProcessIdentity {
  /** The node's runtime key (its id): a record of another node is never touched. */
  node: string;
}

/** What an export is known by before it starts. */
export interface ExportDraft {
  id: string;
  /** The libvirt connection. */
  uri: string;
  /** Domain UUID. */
  domain: string;
  owner: ExportOwner;
}

export interface ExportRecord extends ExportDraft {
  kind: 'pull' | 'offline';
  /** A checkpoint the export creates (deleted on recovery: its backup was never reported). */
  createdCheckpoint: string | null;
}

/** An export's private directory and how to remove it with its record. */
export interface ExportDir {
  readonly path: string;
  /** Removes the directory, then the record. */
  release(): Promise<void>;
}

const RECORD_SUFFIX = '.json';

/** Records the export, then creates its directory (0700) under `workDir`. */
export async function createExportDir(workDir: string, record: ExportRecord): Promise<ExportDir> {
  for (;;) {
    const dir = path.join(workDir, `${record.kind === 'pull' ? 'nbd' : 'off'}-${randomBytes(6).toString('hex')}`);
    const file = dir + RECORD_SUFFIX;
    let fh;
    try {
      fh = await open(file, 'wx', 0o600); // exclusive: never overwrite another export's record
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw err;
    }
    try {
      await fh.writeFile(JSON.stringify(record) + '\n');
      await fh.sync();
      await fh.close();
      await mkdir(dir, { mode: 0o700 });
    } catch (err) {
      // The record is removed next and err is what failed: a close error would add nothing.
      await fh.close().catch(() => undefined);
      await rm(file, { force: true });
      throw err;
    }
    return {
      path: dir,
      release: async () => {
        await rm(dir, { recursive: true, force: true });
        await rm(file, { force: true });
      },
    };
  }
}

export interface FoundRecord {
  /** The export's directory (which may not exist: the crash came before it was made). */
  dir: string;
  file: string;
  /** Null when the record cannot be read (then nobody can tell whose it is). */
  record: ExportRecord | null;
}

/** Every export record in a work directory. */
export async function readExportRecords(workDir: string): Promise<FoundRecord[]> {
  let names: string[];
  try {
    names = await readdir(workDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const found: FoundRecord[] = [];
  for (const n of names.filter((x) => /^(nbd|off)-[0-9a-f]+\.json$/.test(x))) {
    const file = path.join(workDir, n);
    const record = await readFile(file, 'utf8').then(parseRecord, () => null);
    found.push({ dir: file.slice(0, -RECORD_SUFFIX.length), file, record });
  }
  return found;
}

function parseRecord(text: string): ExportRecord | null {
  try {
    const r = JSON.parse(text) as Partial<ExportRecord>;
    const o = r.owner;
    const ok =
      typeof r.id === 'string' && (r.kind === 'pull' || r.kind === 'offline') && typeof r.uri === 'string' && typeof r.domain === 'string' &&
      (r.createdCheckpoint === null || typeof r.createdCheckpoint === 'string') &&
      !!o && typeof o.node === 'string' && typeof o.pid === 'number' && typeof o.startTime === 'string' && typeof o.bootId === 'string';
    return ok ? (r as ExportRecord) : null;
  } catch {
    return null; // half-written (a crash while recording): nothing was started for it
  }
}
