/**
 * LVM2 read in user space, never through the host's LVM (which must not see, cache or
 * activate a backup's volume groups): the PV label in the first four sectors, the PV header,
 * the metadata areas' newest committed text, and that text's config syntax. Linear LVs map to
 * byte ranges on their PVs; everything else is described, with the reason it is not mapped.
 */
import { readAt, type BlockSource } from './block-source.js';
import { crc32Update } from './partition-table.js';

const LVM_CRC_SEED = 0xf597a6cf;
const MDA_MAGIC = ' LVM2 x[5A%r0N*>';
const MDA_HEADER_SIZE = 512;
const MAX_METADATA_BYTES = 16 * 1024 * 1024;

/** LVM's checksum: CRC32 seeded with its own constant, no final inversion. */
export function lvmCrc(...parts: Uint8Array[]): number {
  return parts.reduce((crc, p) => crc32Update(crc, p), LVM_CRC_SEED);
}

export interface PvLabel {
  /** PV UUID without dashes, as the label stores it. */
  uuid: string;
  /** Device size the PV header records (bytes; 0 when not recorded). */
  deviceSize: number;
  dataAreas: { offset: number; size: number }[];
  metadataAreas: { offset: number; size: number }[];
}

/** The PV label and header, or null when this is no LVM2 PV. */
export async function readPvLabel(pv: BlockSource): Promise<PvLabel | null> {
  const head = await readAt(pv, 0, 4 * 512);
  for (let sector = 0; sector < 4; sector++) {
    const s = head.subarray(sector * 512, sector * 512 + 512);
    if (s.toString('latin1', 0, 8) !== 'LABELONE' || s.toString('latin1', 24, 32) !== 'LVM2 001') continue;
    if (Number(s.readBigUInt64LE(8)) !== sector || lvmCrc(s.subarray(20)) !== s.readUInt32LE(16)) continue;
    let at = s.readUInt32LE(20);
    if (at < 32 || at > 512 - 48) continue;
    const uuid = s.toString('latin1', at, at + 32);
    const deviceSize = Number(s.readBigUInt64LE(at + 32));
    at += 40;
    const list = (): { offset: number; size: number }[] => {
      const out: { offset: number; size: number }[] = [];
      while (at + 16 <= 512) {
        const offset = Number(s.readBigUInt64LE(at));
        const size = Number(s.readBigUInt64LE(at + 8));
        at += 16;
        if (offset === 0) break;
        out.push({ offset, size });
      }
      return out;
    };
    const dataAreas = list();
    return { uuid, deviceSize, dataAreas, metadataAreas: list() };
  }
  return null;
}

export interface MetadataCopy {
  text: string;
  vg: LvmVg;
}

/**
 * The committed metadata of each metadata area of a PV (the first raw location of its
 * circular buffer), checksums checked. Problems are described, not thrown.
 */
export async function readMetadataAreas(pv: BlockSource, label: PvLabel): Promise<{ copies: MetadataCopy[]; problems: string[] }> {
  const copies: MetadataCopy[] = [];
  const problems: string[] = [];
  for (const mda of label.metadataAreas) {
    const h = await readAt(pv, mda.offset, MDA_HEADER_SIZE);
    if (h.toString('latin1', 4, 20) !== MDA_MAGIC || lvmCrc(h.subarray(4)) !== h.readUInt32LE(0)) {
      problems.push(`LVM metadata area at byte ${mda.offset} has a damaged header`);
      continue;
    }
    const size = Number(h.readBigUInt64LE(32));
    const offset = Number(h.readBigUInt64LE(40));
    const length = Number(h.readBigUInt64LE(48));
    const checksum = h.readUInt32LE(56);
    const ignored = (h.readUInt32LE(60) & 1) !== 0;
    if (offset === 0 || length === 0 || ignored) continue;
    if (length > MAX_METADATA_BYTES || offset >= size || length > size - MDA_HEADER_SIZE) {
      problems.push(`LVM metadata area at byte ${mda.offset} points outside itself`);
      continue;
    }
    // The text area is a ring after the header: a copy may wrap round to its start.
    const first = Math.min(length, size - offset);
    const parts = [await readAt(pv, mda.offset + offset, first)];
    if (first < length) parts.push(await readAt(pv, mda.offset + MDA_HEADER_SIZE, length - first));
    if (lvmCrc(...parts) !== checksum) {
      problems.push(`LVM metadata at byte ${mda.offset + offset} fails its checksum`);
      continue;
    }
    const text = Buffer.concat(parts).toString('utf8').replace(/\0+$/, '');
    try {
      copies.push({ text, vg: parseVgMetadata(text) });
    } catch (err) {
      problems.push(`LVM metadata at byte ${mda.offset + offset} cannot be parsed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return { copies, problems };
}

// --- The LVM2 config syntax: sections `name { … }`, `key = value`, values are numbers,
// strings or flat lists of them, `#` comments to the end of the line.

export type LvmValue = number | string | (number | string)[] | LvmSection;
export interface LvmSection {
  [key: string]: LvmValue;
}

export function isSection(v: LvmValue | undefined): v is LvmSection {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

type Token = { t: 'word' | 'str'; v: string } | { t: 'num'; v: number } | { t: 'punct'; v: string };

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (/\s/.test(c)) {
      i++;
    } else if ('{}[]=,'.includes(c)) {
      out.push({ t: 'punct', v: c });
      i++;
    } else if (c === '"') {
      let s = '';
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        s += text[i];
        i++;
      }
      if (i >= text.length) throw new Error('unterminated string');
      i++;
      out.push({ t: 'str', v: s });
    } else {
      const m = /^[^\s{}[\]=,"#]+/.exec(text.slice(i, i + 1024));
      const w = m![0];
      i += w.length;
      out.push(/^-?\d+(\.\d+)?$/.test(w) ? { t: 'num', v: Number(w) } : { t: 'word', v: w });
    }
  }
  return out;
}

/** Parses LVM2 text metadata into nested sections. Throws on a syntax error. */
export function parseLvmConfig(text: string): LvmSection {
  const tokens = tokenize(text);
  let i = 0;
  const next = (): Token => {
    const tok = tokens[i++];
    if (!tok) throw new Error('unexpected end of metadata');
    return tok;
  };
  const scalar = (tok: Token): number | string => {
    if (tok.t === 'num' || tok.t === 'str') return tok.v;
    throw new Error(`unexpected "${tok.v}"`);
  };
  const section = (top: boolean): LvmSection => {
    const out: LvmSection = {};
    for (;;) {
      if (i >= tokens.length) {
        if (top) return out;
        throw new Error('unexpected end of metadata (missing "}")');
      }
      const key = next();
      if (key.t === 'punct' && key.v === '}' && !top) return out;
      if (key.t !== 'word' && key.t !== 'str') throw new Error(`unexpected "${String(key.v)}"`);
      const op = next();
      if (op.t === 'punct' && op.v === '{') {
        out[key.v] = section(false);
      } else if (op.t === 'punct' && op.v === '=') {
        const v = next();
        if (v.t === 'punct' && v.v === '[') {
          const list: (number | string)[] = [];
          for (let tok = next(); !(tok.t === 'punct' && tok.v === ']'); tok = next()) {
            if (tok.t === 'punct' && tok.v === ',') continue;
            list.push(scalar(tok));
          }
          out[key.v] = list;
        } else out[key.v] = scalar(v);
      } else throw new Error(`expected "=" or "{" after "${key.v}"`);
    }
  };
  return section(true);
}

function num(s: LvmSection, key: string): number {
  const v = s[key];
  if (typeof v !== 'number') throw new Error(`"${key}" is missing or not a number`);
  return v;
}

function str(s: LvmSection, key: string): string {
  const v = s[key];
  if (typeof v !== 'string') throw new Error(`"${key}" is missing or not a string`);
  return v;
}

function flags(s: LvmSection, key: string): string[] {
  const v = s[key];
  return Array.isArray(v) ? v.map(String) : [];
}

// --- The volume group model.

export interface LvmPv {
  /** The metadata's name for it (pv0, pv1, …). */
  key: string;
  /** UUID without dashes. */
  uuid: string;
  /** Where its extents start, in bytes from the PV's start. */
  peStart: number;
  peCount: number;
  /** Whether the metadata marks it MISSING. */
  missing: boolean;
}

export interface LvmSegment {
  startExtent: number;
  extentCount: number;
  type: string;
  /** For striped/linear segments: each stripe's PV key and first extent on it. */
  stripes: { pv: string; extent: number }[];
  /** For an (old-style) snapshot segment: the LV holding its copy-on-write data. */
  cowStore?: string;
}

export interface LvmLv {
  name: string;
  uuid: string;
  visible: boolean;
  status: string[];
  segments: LvmSegment[];
}

export interface LvmVg {
  name: string;
  uuid: string;
  seqno: number;
  /** Bytes per extent. */
  extentSize: number;
  pvs: LvmPv[];
  lvs: LvmLv[];
}

const noDash = (uuid: string) => uuid.replace(/-/g, '');

/** The VG described by one metadata text. Throws when the text is not LVM2 VG metadata. */
export function parseVgMetadata(text: string): LvmVg {
  const top = parseLvmConfig(text);
  const name = Object.keys(top).find((k) => isSection(top[k]));
  const vg = name === undefined ? undefined : top[name];
  if (name === undefined || !isSection(vg)) throw new Error('no volume group section');
  const extentSize = num(vg, 'extent_size') * 512;
  const pvSection = vg.physical_volumes;
  const lvSection = vg.logical_volumes;
  const pvs: LvmPv[] = [];
  for (const [key, pv] of Object.entries(isSection(pvSection) ? pvSection : {})) {
    if (!isSection(pv)) continue;
    pvs.push({ key, uuid: noDash(str(pv, 'id')), peStart: num(pv, 'pe_start') * 512, peCount: num(pv, 'pe_count'), missing: flags(pv, 'flags').includes('MISSING') });
  }
  const lvs: LvmLv[] = [];
  for (const [lvName, lv] of Object.entries(isSection(lvSection) ? lvSection : {})) {
    if (!isSection(lv)) continue;
    const segments: LvmSegment[] = [];
    for (const [key, seg] of Object.entries(lv)) {
      if (!/^segment\d+$/.test(key) || !isSection(seg)) continue;
      const list = Array.isArray(seg.stripes) ? seg.stripes : [];
      const stripes: { pv: string; extent: number }[] = [];
      for (let j = 0; j + 1 < list.length; j += 2) stripes.push({ pv: String(list[j]), extent: Number(list[j + 1]) });
      const segment: LvmSegment = { startExtent: num(seg, 'start_extent'), extentCount: num(seg, 'extent_count'), type: str(seg, 'type'), stripes };
      if (typeof seg.cow_store === 'string') segment.cowStore = seg.cow_store;
      segments.push(segment);
    }
    segments.sort((a, b) => a.startExtent - b.startExtent);
    const status = flags(lv, 'status');
    lvs.push({ name: lvName, uuid: noDash(str(lv, 'id')), visible: status.includes('VISIBLE'), status, segments });
  }
  return { name, uuid: noDash(str(vg, 'id')), seqno: num(vg, 'seqno'), extentSize, pvs, lvs };
}

/** Where an LV's bytes are: ranges on PVs, in LV order. */
export interface LvExtent {
  pvUuid: string;
  /** Byte offset from the start of the PV. */
  pvOffset: number;
  length: number;
}

export type LvMapping = { readable: true; extents: LvExtent[]; size: number } | { readable: false; reason: string; size: number };

/**
 * Maps an LV to byte ranges on its PVs. Only linear LVs (one or more single-stripe
 * segments) are mapped; `present` says which PVs (by UUID) are in this backup.
 */
export function mapLv(vg: LvmVg, lv: LvmLv, present: ReadonlySet<string>): LvMapping {
  const size = lv.segments.reduce((sum, s) => sum + s.extentCount, 0) * vg.extentSize;
  // An old-style snapshot shows as a plain LV holding copy-on-write data, not a filesystem.
  if (vg.lvs.some((o) => o.segments.some((s) => s.cowStore === lv.name))) return { readable: false, reason: 'not supported (snapshot)', size };
  if (lv.segments.length === 0) return { readable: false, reason: 'no segments in its metadata', size };
  const extents: LvExtent[] = [];
  let expect = 0;
  for (const seg of lv.segments) {
    if (seg.type !== 'striped') return { readable: false, reason: `not supported (${seg.type})`, size };
    if (seg.stripes.length !== 1) return { readable: false, reason: 'not supported (striped)', size };
    if (seg.startExtent !== expect) return { readable: false, reason: `its segments leave a gap at extent ${expect}`, size };
    expect = seg.startExtent + seg.extentCount;
    const stripe = seg.stripes[0]!;
    const pv = vg.pvs.find((p) => p.key === stripe.pv);
    if (!pv) return { readable: false, reason: `its metadata names an unknown physical volume "${stripe.pv}"`, size };
    if (!present.has(pv.uuid) || pv.missing) {
      return { readable: false, reason: `volume group ${vg.name} spans a physical volume that is not in this backup (PV ${pv.uuid})`, size };
    }
    const pvOffset = pv.peStart + stripe.extent * vg.extentSize;
    const length = seg.extentCount * vg.extentSize;
    const last = extents[extents.length - 1];
    if (last && last.pvUuid === pv.uuid && last.pvOffset + last.length === pvOffset) last.length += length;
    else extents.push({ pvUuid: pv.uuid, pvOffset, length });
  }
  return { readable: true, extents, size };
}
