/**
 * The VM benchmark's results: medians over rounds, the tables it prints and issue 16's
 * targets (vm-bench.ts runs the tools and calls renderReport).
 */
import { cpus, loadavg } from 'node:os';
import { fmtBytes } from '../../../repository/bench/measure.js';

export interface Step {
  ms: number;
  /** Growth of the backup target caused by this step (restore: bytes of the restored files on disk). */
  storedBytes: number;
  /** Bytes read from the disk export (see `bytesReadNote`). */
  bytesRead: number | null;
  /** Peak resident set size of the step's largest process (null: /usr/bin/time missing). */
  peakRssBytes: number | null;
  /** CPU seconds of the step's processes (user + system, from /usr/bin/time). */
  cpuSeconds: number | null;
  /** CPU seconds the VM's QEMU spent meanwhile (its NBD server serving the reads), when it ran. */
  qemuCpuSeconds: number | null;
}

export interface Round {
  full?: Step;
  incremental?: Step;
  restore?: Step & { identical: boolean };
  error?: string;
}

export interface Summary {
  full?: Step;
  incremental?: Step;
  restore?: Step & { identical: boolean };
}

export interface ToolResult {
  tool: string;
  version: string;
  settings: string;
  bytesReadNote: string;
  rounds: Round[];
  /** Medians over the rounds that got that far (identical: every round's restore was). */
  median: Summary;
  error?: string;
}

export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

function medianStep(steps: readonly Step[]): Step | undefined {
  if (steps.length === 0) return undefined;
  const of = (f: (s: Step) => number | null): number | null => {
    const v = steps.map(f).filter((x): x is number => x !== null);
    return v.length === 0 ? null : (median(v) ?? null);
  };
  return {
    ms: of((s) => s.ms) ?? 0,
    storedBytes: of((s) => s.storedBytes) ?? 0,
    bytesRead: of((s) => s.bytesRead),
    peakRssBytes: of((s) => s.peakRssBytes),
    cpuSeconds: of((s) => s.cpuSeconds),
    qemuCpuSeconds: of((s) => s.qemuCpuSeconds),
  };
}

export function summarize(rounds: readonly Round[]): Summary {
  const pick = <K extends keyof Summary>(k: K): NonNullable<Round[K]>[] => rounds.map((r) => r[k]).filter((x): x is NonNullable<Round[K]> => x !== undefined);
  const full = medianStep(pick('full'));
  const incremental = medianStep(pick('incremental'));
  const restores = pick('restore');
  const restore = medianStep(restores);
  return {
    ...(full ? { full } : {}),
    ...(incremental ? { incremental } : {}),
    ...(restore ? { restore: { ...restore, identical: restores.every((r) => r.identical) } } : {}),
  };
}

/** An error's gist for a table cell: after the failed command line, first line, short. */
const brief = (e: string): string => (e.split(/ exited with \d+: /).pop() ?? e).split('\n')[0]?.slice(0, 80) ?? '';
export const secs = (ms: number | undefined): string => (ms === undefined ? '-' : `${(ms / 1000).toFixed(2)} s`);
const bytes = (n: number | null | undefined): string => (n === null || n === undefined ? '-' : fmtBytes(n));
const mb = (n: number | null | undefined): string => (n === null || n === undefined ? '-' : `${Math.round(n / 1e6)} MB`);
const q = (a: number | null | undefined, b: number | null | undefined): number | null => (a == null || b == null || b === 0 ? null : a / b);
const ratio = (a: number | null | undefined, b: number | null | undefined): string => {
  const r = q(a, b);
  return r === null ? '-' : r.toFixed(2);
};

export interface Target {
  goal: string;
  met: boolean | null;
  numbers: string;
}

/** Issue 16's targets, from the medians of this run. */
export function targets(results: readonly ToolResult[]): Target[] {
  const m = (tool: string): Summary | undefined => results.find((r) => r.tool === tool)?.median;
  const ours = m('vplus');
  const vnb = m('virtnbdbackup');
  const ceil = m('ceiling');
  const t = (goal: string, value: number | null, ok: (v: number) => boolean, numbers: string): Target => ({ goal, met: value === null ? null : ok(value), numbers: value === null ? 'not measured' : numbers });
  const fullVsCeil = q(ours?.full?.ms, ceil?.full?.ms);
  const vnbVsFull = q(vnb?.full?.ms, ours?.full?.ms);
  const incVsVnb = q(ours?.incremental?.ms, vnb?.incremental?.ms);
  const incVsFull = q(ours?.incremental?.ms, ours?.full?.ms);
  const node = m('vplus-node');
  const nodeIncVsFull = q(node?.incremental?.ms, node?.full?.ms);
  const nodeIncVsVnb = q(node?.incremental?.ms, vnb?.incremental?.ms);
  const incStored = q(ours?.incremental?.storedBytes, vnb?.incremental?.storedBytes);
  const restoreVsVnb = q(vnb?.restore?.ms, ours?.restore?.ms);
  const rss = [ours?.full?.peakRssBytes, ours?.incremental?.peakRssBytes, ours?.restore?.peakRssBytes].filter((x): x is number => typeof x === 'number');
  const peak = rss.length === 0 ? null : Math.max(...rss);
  return [
    t('full ≤ 1.6× the read ceiling', fullVsCeil, (v) => v <= 1.6, `${secs(ours?.full?.ms)} vs ${secs(ceil?.full?.ms)} = ${fullVsCeil?.toFixed(2)}×`),
    t('full ≥ 1.5× faster than virtnbdbackup', vnbVsFull, (v) => v >= 1.5, `${secs(vnb?.full?.ms)} / ${secs(ours?.full?.ms)} = ${vnbVsFull?.toFixed(2)}× faster`),
    t('incremental ≤ virtnbdbackup\'s time', incVsVnb, (v) => v <= 1, `${secs(ours?.incremental?.ms)} vs ${secs(vnb?.incremental?.ms)} = ${incVsVnb?.toFixed(2)}×`),
    t('incremental ≤ 10 % of our full', incVsFull, (v) => v <= 0.1, `${secs(ours?.incremental?.ms)} / ${secs(ours?.full?.ms)} = ${((incVsFull ?? 0) * 100).toFixed(1)} %`),
    ...(node
      ? [
          t('incremental ≤ 10 % of our full, in one process as a node runs them', nodeIncVsFull, (v) => v <= 0.1, `${secs(node.incremental?.ms)} / ${secs(node.full?.ms)} = ${((nodeIncVsFull ?? 0) * 100).toFixed(1)} %`),
          t('incremental ≤ virtnbdbackup\'s time, in one process as a node runs them', nodeIncVsVnb, (v) => v <= 1, `${secs(node.incremental?.ms)} vs ${secs(vnb?.incremental?.ms)} = ${nodeIncVsVnb?.toFixed(2)}×`),
        ]
      : []),
    t('incremental stored ≤ 2.5× virtnbdbackup\'s', incStored, (v) => v <= 2.5, `${bytes(ours?.incremental?.storedBytes)} vs ${bytes(vnb?.incremental?.storedBytes)} = ${incStored?.toFixed(2)}×`),
    t('full restore ≥ 1.5× faster than virtnbdrestore', restoreVsVnb, (v) => v >= 1.5, `${secs(vnb?.restore?.ms)} / ${secs(ours?.restore?.ms)} = ${restoreVsVnb?.toFixed(2)}× faster`),
    t('peak memory < 300 MB (flat 4→16 GiB: compare two runs)', peak, (v) => v < 300e6, `full ${mb(ours?.full?.peakRssBytes)}, incremental ${mb(ours?.incremental?.peakRssBytes)}, restore ${mb(ours?.restore?.peakRssBytes)}`),
  ];
}

export interface ReportInput {
  results: readonly ToolResult[];
  /** The disk-write measurements of each round. */
  writes: readonly { ms: number; bytes: number }[];
  sizeGib: number;
  gen: { allocatedBytes: number; textBytes: number; randomBytes: number };
  /** qemu-io arguments of the change (two per write). */
  changeCmdCount: number;
  changedBytes: number;
  changePct: number;
  loadBefore: readonly number[];
  roundCount: number;
}

/** The printed report, with the ratios and targets the JSON results keep. */
export function renderReport(input: ReportInput): { text: string; ratios: Record<string, Record<string, number | null>>; goals: Target[]; write: { ms: number; bytes: number }; writeRate: number } {
  const { results, writes, sizeGib, gen, changeCmdCount, changedBytes, changePct, loadBefore, roundCount } = input;
  const rows: string[][] = [['tool', 'full', 'stored', 'read', 'peak RSS', 'incr', 'stored', 'read', 'peak RSS', 'restore', 'peak RSS', 'identical']];
  for (const r of results) {
    const m = r.median;
    const err = r.error ?? r.rounds.find((x) => x.error)?.error;
    if (!m.full) {
      rows.push([r.tool, `error: ${err ? brief(err) : 'no run'}`]);
      continue;
    }
    rows.push([
      r.tool === 'ceiling' ? 'read ceiling' : r.tool,
      secs(m.full.ms),
      r.tool === 'ceiling' ? '-' : bytes(m.full.storedBytes),
      bytes(m.full.bytesRead),
      mb(m.full.peakRssBytes),
      secs(m.incremental?.ms),
      bytes(m.incremental?.storedBytes),
      bytes(m.incremental?.bytesRead),
      mb(m.incremental?.peakRssBytes),
      secs(m.restore?.ms),
      mb(m.restore?.peakRssBytes),
      m.restore ? String(m.restore.identical) : err ? `error: ${brief(err)}` : '-',
    ]);
  }
  const ours = results.find((r) => r.tool === 'vplus')?.median;
  const ratios: Record<string, Record<string, number | null>> = {};
  for (const r of results) {
    if (r.tool === 'vplus' || !ours || !r.median.full) continue;
    const t = r.median;
    ratios[r.tool] = {
      fullTime: q(ours.full?.ms, t.full?.ms),
      fullStored: r.tool === 'ceiling' ? null : q(ours.full?.storedBytes, t.full?.storedBytes),
      incrementalTime: q(ours.incremental?.ms, t.incremental?.ms),
      incrementalStored: q(ours.incremental?.storedBytes, t.incremental?.storedBytes),
      incrementalRead: q(ours.incremental?.bytesRead, t.incremental?.bytesRead),
      restoreTime: q(ours.restore?.ms, t.restore?.ms),
    };
    const c = (a: number | null | undefined, b: number | null | undefined): string => ratio(a, b);
    rows.push([
      `ours/${r.tool === 'ceiling' ? 'read ceiling' : r.tool}`,
      c(ours.full?.ms, t.full?.ms),
      r.tool === 'ceiling' ? '' : c(ours.full?.storedBytes, t.full?.storedBytes),
      c(ours.full?.bytesRead, t.full?.bytesRead),
      c(ours.full?.peakRssBytes, t.full?.peakRssBytes),
      c(ours.incremental?.ms, t.incremental?.ms),
      c(ours.incremental?.storedBytes, t.incremental?.storedBytes),
      c(ours.incremental?.bytesRead, t.incremental?.bytesRead),
      c(ours.incremental?.peakRssBytes, t.incremental?.peakRssBytes),
      c(ours.restore?.ms, t.restore?.ms),
      c(ours.restore?.peakRssBytes, t.restore?.peakRssBytes),
      '',
    ]);
  }
  const write = { ms: median(writes.map((x) => x.ms)) ?? 0, bytes: writes[0]?.bytes ?? 0 };
  const writeRate = write.ms > 0 ? write.bytes / (write.ms / 1000) : 0;
  const restoredBytes = ours?.restore?.storedBytes;
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  const line = (row: string[]): string => `| ${row.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const goals = targets(results);
  // Where the time goes on 2 cores: our processes' CPU and QEMU's (its NBD server) in each step.
  const cpu = (st: Step | undefined): string =>
    st?.cpuSeconds === null || st?.cpuSeconds === undefined ? '-' : `${st.cpuSeconds.toFixed(2)}${st.qemuCpuSeconds === null ? '' : ` + QEMU ${st.qemuCpuSeconds.toFixed(2)}`}`;
  const cpuRows = [['tool', 'full CPU-s', 'incremental CPU-s', 'restore CPU-s'], ...results.filter((r) => r.median.full).map((r) => [r.tool === 'ceiling' ? 'read ceiling' : r.tool, cpu(r.median.full), cpu(r.median.incremental), cpu(r.median.restore)])];
  const cpuWidths = cpuRows[0]!.map((_, i) => Math.max(...cpuRows.map((row) => (row[i] ?? '').length)));
  const cpuLine = (row: string[]): string => `| ${row.map((c, i) => c.padEnd(cpuWidths[i] ?? 0)).join(' | ')} |`;
  const text =
    `\nVM benchmark: ${sizeGib} GiB disk, ${fmtBytes(gen.allocatedBytes)} data (${fmtBytes(gen.textBytes)} text-like, ${fmtBytes(gen.randomBytes)} random); ` +
    `incremental after ${changeCmdCount / 2} scattered 64 KiB writes (${fmtBytes(changedBytes)}, ${changePct}%)\n` +
    `${cpus().length} × ${cpus()[0]?.model ?? '?'}, load ${loadBefore.map((l) => l.toFixed(2)).join(' ')} at the start, ${loadavg().map((l) => l.toFixed(2)).join(' ')} at the end; ` +
    `medians of ${roundCount} round(s); times include a trailing sync; ratios are ours/theirs (time: < 1 is faster)\n` +
    `disk write (restore directory, ${fmtBytes(write.bytes)} sequential + fdatasync): ${secs(write.ms)} = ${Math.round(writeRate / 1e6)} MB/s` +
    (restoredBytes && writeRate > 0 ? `; writing our restore's ${fmtBytes(restoredBytes)} at that rate takes ${secs((restoredBytes / writeRate) * 1000)}` : '') +
    '\n\n' +
    [line(rows[0]!), line(widths.map((w) => '-'.repeat(w))), ...rows.slice(1).map(line)].join('\n') +
    '\n\n' +
    [cpuLine(cpuRows[0]!), cpuLine(cpuWidths.map((w) => '-'.repeat(w))), ...cpuRows.slice(1).map(cpuLine)].join('\n') +
    '\n\n' +
    results.map((r) => `${r.tool}: ${r.settings}; read = ${r.bytesReadNote}${r.version ? `; ${r.version.split('\n')[0]}` : ''}`).join('\n') +
    '\n\ntargets (issue 16):\n' +
    goals.map((g) => `  ${g.met === null ? 'n/a    ' : g.met ? 'met    ' : 'NOT met'}  ${g.goal}: ${g.numbers}`).join('\n') +
    '\n';
  return { text, ratios, goals, write, writeRate };
}
