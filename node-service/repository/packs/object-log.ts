/**
 * The object log (FORMAT.md "Object logs"): the state of one protected object at a point, as
 * the metadata object a point manifest names. Newline-delimited JSON, in this order:
 *
 *   {"format":"vplus-object-log","version":1}
 *   ["p", seq, pointId, data]         every point of the object's lineage, by seq
 *   ["c", vid, toSeq]                 every closed version, by vid
 *   ["v", vid, fromSeq, [blobs], data] every version, by vid (appended to as the object changes)
 *   ["end", {objectKey, lastPoint, points, closures, versions, data}]
 *
 * A version is valid in the points with fromSeq ≤ seq < toSeq (no "c" line: still valid).
 * The small sections that change at every point come first and the versions, which only grow
 * at their end, after them: with content-defined chunking a new point stores its new
 * versions and the small sections again, not the whole log. `data` is the caller's (the
 * cloud server's item columns); GC and verify read only seqs, ranges and blob ids.
 */
import type { JsonValue } from '../format.js';
import { HEX64_RE, POINT_ID_RE } from './pack-format.js';

export const OBJECT_LOG_FORMAT = 'vplus-object-log';
export const OBJECT_LOG_VERSION = 1;

export interface LogPoint {
  seq: number;
  id: string;
  data: JsonValue;
}
export interface LogClosure {
  vid: number;
  toSeq: number;
}
export interface LogVersion {
  vid: number;
  fromSeq: number;
  blobs: string[];
  data: JsonValue;
}
export interface LogEnd {
  objectKey: string;
  lastPoint: string;
  points: number;
  closures: number;
  versions: number;
  data: JsonValue;
}

export type LogEntry = ({ kind: 'p' } & LogPoint) | ({ kind: 'c' } & LogClosure) | ({ kind: 'v' } & LogVersion) | ({ kind: 'end' } & LogEnd);

export class ObjectLogError extends Error {
  override readonly name = 'ObjectLogError';
}

/** Encodes a log, in lines batched into buffers of about 64 KiB. */
export function* encodeObjectLog(input: {
  points: Iterable<LogPoint>;
  closures: Iterable<LogClosure>;
  versions: Iterable<LogVersion>;
  end: Pick<LogEnd, 'objectKey' | 'lastPoint' | 'data'>;
}): Generator<Buffer> {
  let batch: string[] = [];
  let size = 0;
  const counts = { points: 0, closures: 0, versions: 0 };
  const line = (s: string): Buffer | null => {
    batch.push(s, '\n');
    size += s.length + 1;
    if (size < 64 * 1024) return null;
    const out = Buffer.from(batch.join(''), 'utf8');
    batch = [];
    size = 0;
    return out;
  };
  const emit = function* (s: string): Generator<Buffer> {
    const b = line(s);
    if (b) yield b;
  };
  yield* emit(JSON.stringify({ format: OBJECT_LOG_FORMAT, version: OBJECT_LOG_VERSION }));
  for (const p of input.points) {
    counts.points++;
    yield* emit(JSON.stringify(['p', p.seq, p.id, p.data]));
  }
  for (const c of input.closures) {
    counts.closures++;
    yield* emit(JSON.stringify(['c', c.vid, c.toSeq]));
  }
  for (const v of input.versions) {
    counts.versions++;
    yield* emit(JSON.stringify(['v', v.vid, v.fromSeq, v.blobs, v.data]));
  }
  yield* emit(JSON.stringify(['end', { ...input.end, ...counts }]));
  if (batch.length > 0) yield Buffer.from(batch.join(''), 'utf8');
}

const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/** Decodes a log from its bytes in order, checking order and counts; throws ObjectLogError. */
export async function* decodeObjectLog(chunks: AsyncIterable<Buffer> | Iterable<Buffer>): AsyncGenerator<LogEntry> {
  let rest: Buffer = Buffer.alloc(0);
  let header = false;
  let ended = false;
  let section = 0; // 0 p, 1 c, 2 v
  let last = -1;
  const counts = { points: 0, closures: 0, versions: 0 };
  const bad = (why: string): ObjectLogError => new ObjectLogError(`object log: ${why}`);
  const parse = (line: Buffer): LogEntry | null => {
    let x: unknown;
    try {
      x = JSON.parse(line.toString('utf8'));
    } catch {
      throw bad('a line is not JSON');
    }
    if (ended) throw bad('lines after the end');
    if (!header) {
      const h = x as { format?: unknown; version?: unknown };
      if (h?.format !== OBJECT_LOG_FORMAT) throw bad('not an object log');
      if (h.version !== OBJECT_LOG_VERSION) throw bad(`version ${String(h.version)} was written by another version of vPlus (this one reads ${OBJECT_LOG_VERSION})`);
      header = true;
      return null;
    }
    if (!Array.isArray(x)) throw bad('a line is not an entry');
    const order = (s: number, key: number): void => {
      if (s < section || (s === section && key <= last)) throw bad('entries out of order');
      if (s > section) last = -1;
      section = s;
      last = key;
    };
    const [kind, a, b, c, d] = x as unknown[];
    if (kind === 'p' && isInt(a) && typeof b === 'string' && POINT_ID_RE.test(b)) {
      order(0, a);
      counts.points++;
      return { kind, seq: a, id: b, data: (c ?? null) as JsonValue };
    }
    if (kind === 'c' && isInt(a) && isInt(b)) {
      order(1, a);
      counts.closures++;
      return { kind, vid: a, toSeq: b };
    }
    if (kind === 'v' && isInt(a) && isInt(b) && Array.isArray(c) && c.every((id) => typeof id === 'string' && HEX64_RE.test(id))) {
      order(2, a);
      counts.versions++;
      return { kind, vid: a, fromSeq: b, blobs: c as string[], data: (d ?? null) as JsonValue };
    }
    if (kind === 'end' && typeof a === 'object' && a !== null) {
      const e = a as LogEnd;
      if (e.points !== counts.points || e.closures !== counts.closures || e.versions !== counts.versions) throw bad('the counts at its end do not match its entries (truncated?)');
      ended = true;
      return { kind, ...e };
    }
    throw bad('an entry is malformed');
  };
  for await (const chunk of chunks) {
    let buf = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
    let nl: number;
    while ((nl = buf.indexOf(0x0a)) >= 0) {
      const e = parse(buf.subarray(0, nl));
      if (e) yield e;
      buf = buf.subarray(nl + 1);
    }
    rest = Buffer.from(buf);
  }
  if (rest.length > 0) throw bad('the last line is incomplete');
  if (!ended) throw bad('it has no end (truncated?)');
}

/**
 * Reads a log and calls `onBlob` for every blob a version valid in one of `existing` points
 * needs, with those points' ids. Returns the existing points the log covers.
 */
export async function scanObjectLog(
  entries: AsyncIterable<LogEntry>,
  existing: ReadonlySet<string>,
  onBlob: (blobId: string, pointIds: readonly string[]) => void,
): Promise<{ covered: string[]; end: LogEnd }> {
  const seqs: { seq: number; id: string }[] = [];
  const closed = new Map<number, number>();
  let end: LogEnd | null = null;
  for await (const e of entries) {
    if (e.kind === 'p') {
      if (existing.has(e.id)) seqs.push({ seq: e.seq, id: e.id });
    } else if (e.kind === 'c') closed.set(e.vid, e.toSeq);
    else if (e.kind === 'v') {
      const to = closed.get(e.vid) ?? Number.POSITIVE_INFINITY;
      const ids: string[] = [];
      for (const s of seqs) if (s.seq >= e.fromSeq && s.seq < to) ids.push(s.id);
      if (ids.length > 0) for (const b of e.blobs) onBlob(b, ids);
    } else end = e;
  }
  if (!end) throw new ObjectLogError('object log: it has no end');
  return { covered: seqs.map((s) => s.id), end };
}
