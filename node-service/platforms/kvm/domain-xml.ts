/**
 * Reads the few facts we need from libvirt's domain and checkpoint XML, and writes the XML
 * documents we send. libvirt's own output is regular (one element per tag, quoted attributes),
 * so small targeted patterns suffice and we avoid an XML dependency in the node.
 */

export interface DomainDiskXml {
  /** Target device name (vda, sdb): the stable name of a disk within a domain. */
  target: string;
  device: string;
  /** Source kind: file, block, network, volume. */
  type: string;
  path: string | null;
  format: string | null;
  readonly: boolean;
}

export interface DomainXmlFacts {
  name: string;
  uuid: string;
  vcpus: number;
  memoryBytes: number;
  disks: DomainDiskXml[];
  /** uid:gid QEMU runs as for this (running) domain, from its DAC security label. */
  qemuOwner: { uid: number; gid: number } | null;
}

const UNIT_BYTES: Record<string, number> = {
  b: 1, bytes: 1, k: 1024, kib: 1024, kb: 1000, m: 1024 ** 2, mib: 1024 ** 2, mb: 1e6, g: 1024 ** 3, gib: 1024 ** 3, gb: 1e9,
};

export function parseDomainXml(xml: string): DomainXmlFacts {
  const name = textOf(xml, 'name');
  const uuid = textOf(xml, 'uuid');
  if (!name || !uuid) throw new Error('the domain XML has no name or uuid');
  const memory = /<memory\b([^>]*)>\s*(\d+)\s*<\/memory>/.exec(xml);
  const unit = (attr(memory?.[1] ?? '', 'unit') ?? 'KiB').toLowerCase();
  const disks: DomainDiskXml[] = [];
  for (const m of xml.matchAll(/<disk\b([^>]*)>([\s\S]*?)<\/disk>/g)) {
    const head = m[1] ?? '';
    const body = m[2] ?? '';
    // The first <source> is the disk's own; nested ones belong to <backingStore>.
    const source = /<source\b([^>]*)\/?>/.exec(body)?.[1] ?? '';
    const target = attr(/<target\b([^>]*)\/?>/.exec(body)?.[1] ?? '', 'dev');
    if (!target) continue;
    disks.push({
      target,
      device: attr(head, 'device') ?? 'disk',
      type: attr(head, 'type') ?? 'file',
      path: attr(source, 'file') ?? attr(source, 'dev') ?? null,
      format: attr(/<driver\b([^>]*)\/?>/.exec(body)?.[1] ?? '', 'type') ?? null,
      readonly: /<readonly\s*\/>/.test(body),
    });
  }
  const label = /<seclabel\b[^>]*model=['"]dac['"][^>]*>[\s\S]*?<label>\+?(\d+):\+?(\d+)<\/label>/.exec(xml);
  return {
    name,
    uuid,
    vcpus: Number(/<vcpu\b[^>]*>\s*(\d+)\s*<\/vcpu>/.exec(xml)?.[1] ?? 0),
    memoryBytes: Number(memory?.[2] ?? 0) * (UNIT_BYTES[unit] ?? 1024),
    disks,
    qemuOwner: label ? { uid: Number(label[1]), gid: Number(label[2]) } : null,
  };
}

/** Disks a backup can read: writable file or block disks (not CD-ROMs, not read-only). */
export function backupCandidates(disks: readonly DomainDiskXml[]): DomainDiskXml[] {
  return disks.filter((d) => d.device === 'disk' && !d.readonly && (d.type === 'file' || d.type === 'block') && d.path !== null);
}

/**
 * The disks a checkpoint covers with a bitmap, from `checkpoint-dumpxml --size`; `usable` is
 * false when QEMU reports no size, i.e. the bitmap is missing or broken in that disk.
 */
export function checkpointBitmapDisks(xml: string): { name: string; usable: boolean }[] {
  const out: { name: string; usable: boolean }[] = [];
  for (const m of xml.matchAll(/<disk\b([^>]*)\/?>/g)) {
    const a = m[1] ?? '';
    const name = attr(a, 'name');
    if (name && attr(a, 'checkpoint') === 'bitmap') out.push({ name, usable: attr(a, 'size') !== undefined });
  }
  return out;
}

export interface BackupXmlOptions {
  socket: string;
  scratchDir: string;
  include: readonly string[];
  exclude: readonly string[];
  incremental: string | null;
}

export function backupXml(o: BackupXmlOptions): string {
  const disks = [
    ...o.include.map(
      (d) => `    <disk name='${esc(d)}' backup='yes' type='file'><scratch file='${esc(`${o.scratchDir}/${d}.scratch`)}'/></disk>`,
    ),
    ...o.exclude.map((d) => `    <disk name='${esc(d)}' backup='no'/>`),
  ];
  return [
    "<domainbackup mode='pull'>",
    ...(o.incremental ? [`  <incremental>${esc(o.incremental)}</incremental>`] : []),
    `  <server transport='unix' socket='${esc(o.socket)}'/>`,
    '  <disks>',
    ...disks,
    '  </disks>',
    '</domainbackup>',
  ].join('\n');
}

export function checkpointXml(name: string, include: readonly string[], exclude: readonly string[]): string {
  return [
    '<domaincheckpoint>',
    `  <name>${esc(name)}</name>`,
    '  <description>vPlus backup base</description>',
    '  <disks>',
    ...include.map((d) => `    <disk name='${esc(d)}' checkpoint='bitmap'/>`),
    ...exclude.map((d) => `    <disk name='${esc(d)}' checkpoint='no'/>`),
    '  </disks>',
    '</domaincheckpoint>',
  ].join('\n');
}

function textOf(xml: string, tag: string): string | null {
  const m = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml);
  return m?.[1] !== undefined ? unesc(m[1].trim()) : null;
}

function attr(attrs: string, name: string): string | undefined {
  const m = new RegExp(`\\b${name}=(?:'([^']*)'|"([^"]*)")`).exec(attrs);
  const v = m?.[1] ?? m?.[2];
  return v === undefined ? undefined : unesc(v);
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');
}

function unesc(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&apos;/g, "'").replace(/&quot;/g, '"').replace(/&amp;/g, '&');
}
