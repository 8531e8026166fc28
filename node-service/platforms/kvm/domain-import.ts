/**
 * Turns a backed-up domain XML into the definition of a new VM: a new name, UUID and MAC
 * addresses, every restored disk pointing at its restored file (a standalone image: no
 * backing chain), and nothing that would tie it to the original VM — writable disks that were
 * not restored are left out rather than shared, and the NVRAM file is not reused.
 */
import { randomBytes } from 'node:crypto';

export interface ImportedDisk {
  target: string;
  path: string;
  format: string;
}

export interface ImportXmlOptions {
  name: string;
  uuid: string;
  disks: readonly ImportedDisk[];
  /** New MAC addresses (default: random, in QEMU's 52:54:00 range). */
  mac?: () => string;
}

export interface ImportXml {
  xml: string;
  /** Targets of writable disks left out because they were not restored. */
  dropped: string[];
  macs: string[];
}

export function randomMac(): string {
  const b = randomBytes(3);
  return ['52', '54', '00', ...[...b].map((x) => x.toString(16).padStart(2, '0'))].join(':');
}

export function importDomainXml(xml: string, o: ImportXmlOptions): ImportXml {
  const mac = o.mac ?? randomMac;
  const dropped: string[] = [];
  const macs: string[] = [];
  let out = xml;
  if (!/<name>[^<]*<\/name>/.test(out) || !/<devices>/.test(out)) throw new Error('the backed-up domain XML has no name or devices');
  // The domain's own <name> and <uuid> come first (nested ones, e.g. in <sysinfo>, later).
  out = out.replace(/<name>[^<]*<\/name>/, `<name>${esc(o.name)}</name>`);
  out = /<uuid>[^<]*<\/uuid>/.test(out) ? out.replace(/<uuid>[^<]*<\/uuid>/, `<uuid>${o.uuid}</uuid>`) : out.replace(/(<name>[^<]*<\/name>)/, `$1\n  <uuid>${o.uuid}</uuid>`);
  out = out.replace(/<mac\s+address=(['"])[^'"]*\1\s*\/>/g, () => {
    const m = mac();
    macs.push(m);
    return `<mac address='${m}'/>`;
  });
  // A new VM gets a new NVRAM file from its template; sharing the original's would couple them.
  out = out.replace(/\s*<nvram\b[^>]*\/>/g, '').replace(/\s*<nvram\b[^>]*>[^<]*<\/nvram>/g, '');
  out = out.replace(/(\s*)<disk\b([^>]*)>([\s\S]*?)<\/disk>/g, (whole: string, indent: string, head: string, body: string) => {
    const target = /<target\b[^>]*\bdev=['"]([^'"]+)['"]/.exec(body)?.[1];
    const device = /\bdevice=['"]([^'"]+)['"]/.exec(head)?.[1] ?? 'disk';
    const restored = o.disks.find((d) => d.target === target);
    if (!restored) {
      if (device !== 'disk' || /<readonly\s*\/>/.test(body)) return whole; // CD-ROMs, floppies, read-only media stay
      dropped.push(target ?? '?');
      return '';
    }
    let b = body
      .replace(/\s*<backingStore\b[^>]*\/>/g, '')
      .replace(/\s*<backingStore\b[^>]*>[\s\S]*?<\/backingStore>/g, '')
      .replace(/<source\b[^>]*\/>|<source\b[^>]*>[\s\S]*?<\/source>/, `<source file='${esc(restored.path)}'/>`);
    b = /<driver\b/.test(b)
      ? b.replace(/<driver\b([^>]*?)(\/?)>/, (_m: string, attrs: string, close: string) => `<driver${setAttr(attrs, 'type', restored.format)}${close}>`)
      : b.replace(/(\s*)<source\b/, `$1<driver name='qemu' type='${esc(restored.format)}'/>$1<source`);
    const h = setAttr(head, 'type', 'file');
    return `${indent}<disk${h}>${b}</disk>`;
  });
  return { xml: out, dropped, macs };
}

function setAttr(attrs: string, name: string, value: string): string {
  const re = new RegExp(`\\s${name}=(['"])[^'"]*\\1`);
  return re.test(attrs) ? attrs.replace(re, ` ${name}='${esc(value)}'`) : `${attrs.replace(/\s*$/, '')} ${name}='${esc(value)}'`;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');
}
