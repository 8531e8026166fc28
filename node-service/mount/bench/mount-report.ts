/** The mount benchmark's results and its markdown report (a table of ways side by side, then the targets of issue 11). */
import type { BenchDisk } from './bench-disk.js';

const MIB = 1024 * 1024;

export interface Phase {
  ms: number;
  /** Bytes this process read with read(2), less the file content read from the mount: the repository's chunk and manifest files. */
  repoRead: number;
  /** Bytes of the disk our NBD server was asked for (0 for the other ways). */
  served: number;
  /** File content read from the mount. */
  content: number;
  note?: string;
}

export interface WayResult {
  way: string;
  label: string;
  /** 1, 5 and 15 minute load averages when the way started. */
  load: number[];
  first?: Phase;
  /** Of the first listing: opening the session, or restoring and mounting. */
  openMs?: number;
  stagingBytes?: number;
  listPage?: Phase;
  listAll?: Phase;
  download?: Phase;
  zip?: Phase;
  zipBytes?: number;
  closeMs?: number;
  error?: string;
}

export interface Report {
  sizeGib: number;
  disk: BenchDisk;
  backup: { ms: number; stored: number; manifestBytes: number };
  results: WayResult[];
  drop: boolean;
  machine: string;
  loadAfter: number[];
  threadpool: string;
}

const secs = (ms: number | undefined): string => (ms === undefined ? '-' : ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`);
export function size(n: number | undefined): string {
  if (n === undefined) return '-';
  if (n < MIB) return `${(n / 1024).toFixed(0)} KiB`;
  if (n < 1024 * MIB) return `${(n / MIB).toFixed(1)} MiB`;
  return `${(n / 1024 / MIB).toFixed(2)} GiB`;
}
const mbps = (bytes: number, ms: number): number => bytes / 1e6 / (ms / 1000);
const rate = (p: Phase | undefined): string => (p ? `${mbps(p.content, p.ms).toFixed(0)} MB/s (${secs(p.ms)})` : '-');
const times = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined || b === 0 ? '-' : `${(a / b).toFixed(1)}×`);
const ok = (pass: boolean): string => (pass ? 'met' : 'NOT met');

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(rows[0]!), line(widths.map((w) => '-'.repeat(w))), ...rows.slice(1).map(line)].join('\n');
}

export function formatReport(r: Report): string {
  const ways = r.results;
  const ours = ways.find((w) => w.way === 'overlay' && !w.error) ?? ways.find((w) => w.way === 'read-only' && !w.error);
  const stage = ways.find((w) => w.way === 'staging' && !w.error);
  const col = (f: (w: WayResult) => string): string[] => ways.map((w) => (w.error && !w.first ? 'n/a' : f(w)));
  const ratioCol = (f: (w: WayResult) => number | undefined, inverse = false): string => {
    if (!ours || !stage) return '-';
    return inverse ? times(f(ours), f(stage)) : times(f(stage), f(ours));
  };
  const rows: string[][] = [
    ['', ...ways.map((w) => w.label), `staging ÷ ${ours?.label ?? 'ours'}`],
    ['to first listing (repository open → root listed)', ...col((w) => secs(w.first?.ms)), ratioCol((w) => w.first?.ms)],
    ['  of which session open / restore + mount', ...col((w) => secs(w.openMs)), ratioCol((w) => w.openMs)],
    ['read from the repository to first listing', ...col((w) => size(w.first?.repoRead)), ratioCol((w) => w.first?.repoRead)],
    ['disk bytes served over NBD to first listing', ...col((w) => (w.way === 'overlay' || w.way === 'read-only' ? size(w.first?.served) : '-')), ''],
    ['node space used before the first listing', ...col((w) => (w.stagingBytes !== undefined ? size(w.stagingBytes) : w.way === 'overlay' ? 'none (overlay: writes only)' : 'none')), ''],
    [`list many/ (${r.disk.manyFiles} files), first page of 500`, ...col((w) => secs(w.listPage?.ms)), ratioCol((w) => w.listPage?.ms)],
    [`list many/, all ${r.disk.manyFiles} entries with stats`, ...col((w) => secs(w.listAll?.ms)), ratioCol((w) => w.listAll?.ms)],
    ['  read from the repository (both listings)', ...col((w) => size((w.listPage?.repoRead ?? 0) + (w.listAll?.repoRead ?? 0))), ''],
    [`download ${r.disk.bigFile} (${size(r.disk.bigBytes)})`, ...col((w) => rate(w.download)), ratioCol((w) => (w.download ? mbps(w.download.content, w.download.ms) : undefined), true)],
    ['  read from the repository', ...col((w) => size(w.download?.repoRead)), ''],
    [`zip ${r.disk.mediumDir}/ (${r.disk.mediumFiles} files, ${size(r.disk.mediumBytes)}; level 1)`, ...col((w) => rate(w.zip)), ratioCol((w) => (w.zip ? mbps(w.zip.content, w.zip.ms) : undefined), true)],
    ['  zip size', ...col((w) => size(w.zipBytes)), ''],
    ['  read from the repository', ...col((w) => size(w.zip?.repoRead)), ''],
    ['read from the repository, whole session', ...col((w) => size([w.first, w.listPage, w.listAll, w.download, w.zip].reduce((s, p) => s + (p?.repoRead ?? 0), 0))), ''],
    ['close (umount, loops, FUSE, server, files)', ...col((w) => secs(w.closeMs)), ''],
    ['load average at start (1/5/15 min)', ...col((w) => w.load.join(' / ')), ''],
  ];
  const out: string[] = [];
  out.push(
    `\nMount benchmark: ${r.sizeGib} GiB raw disk, GPT, ext4 partition of ${size(r.disk.partSize)} at ${size(r.disk.partOffset)} holding ${size(r.disk.dataBytes)} of files ` +
      `(many/: ${r.disk.manyFiles} files of 0.5-8 KiB text; ${r.disk.bigFile}: ${size(r.disk.bigBytes)}, half text-like, half random; ` +
      `${r.disk.mediumDir}/: ${r.disk.mediumFiles} files of 1-8 MiB, alternately text-like and random).`,
    `Backup: encrypted repository (AES-256-GCM, zstd 1, 1 MiB chunks), ${size(r.backup.stored)} stored, manifest ${size(r.backup.manifestBytes)}, written in ${secs(r.backup.ms)}.`,
    `${r.machine}; load after the run ${r.loadAfter.map((l) => l.toFixed(2)).join(' / ')}; UV_THREADPOOL_SIZE ${r.threadpool}.`,
    r.drop
      ? 'The page cache was dropped (sync; echo 3 > /proc/sys/vm/drop_caches) before each way and before each measured step; the reader\'s in-memory chunk cache (16 chunks) lives on within a session.'
      : 'The page cache was NOT dropped between steps (VPLUS_BENCH_DROP_CACHES=0).',
    'Each way opens the repository afresh (key derivation included) and reads files in this process through browse.list / browse.openRead / zip-stream, as the node will. ' +
      '"Read from the repository" is the read(2) bytes of this process\'s threads (/proc/self/task/*/io rchar: chunk workers included, child processes such as qemu-img not) less the file content read from the mount.',
    '',
    table(rows),
    '',
  );
  for (const w of ways) if (w.error) out.push(`${w.label}: not measured: ${w.error}`);
  out.push('virtnbdmap: not measured (not installed here, and it needs the nbd kernel module: no /dev/nbd* on this kernel).', '');
  const targets: string[] = [];
  for (const w of ways.filter((x) => (x.way === 'overlay' || x.way === 'read-only') && !x.error)) {
    const first = w.first;
    targets.push(
      `- ${w.label}: first listing ${secs(first?.ms)} (< 3 s: ${ok((first?.ms ?? Infinity) < 3000)}), ` +
        `${size(first?.repoRead)} read from the repository (< 64 MiB: ${ok((first?.repoRead ?? Infinity) < 64 * MIB)}), ` +
        `download ${w.download ? mbps(w.download.content, w.download.ms).toFixed(0) : '-'} MB/s (≥ 300 MB/s: ${ok(!!w.download && mbps(w.download.content, w.download.ms) >= 300)})` +
        (stage?.first && first ? `, ${(stage.first.ms / first.ms).toFixed(1)}× faster than staging to the first listing (≥ 10×: ${ok(stage.first.ms / first.ms >= 10)})` : ''),
    );
  }
  if (targets.length > 0) out.push('Targets (issue 11):', ...targets, '');
  return out.join('\n') + '\n';
}
