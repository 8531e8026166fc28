/**
 * Contacts as vCard 4.0 (RFC 6350), built with ical.js: one vCard per stored contact, its photo
 * inline as a data: URI, and the VCF export (vCards one after another, as RFC 6350 3.1 allows).
 */
import type { Writable } from 'node:stream';
import ICAL from 'ical.js';
import type { GraphContact } from '../graph/pim-items.js';
import { writeAll } from './ics.js';

/**
 * ical.js's vCard design escapes commas in URI values as in text; RFC 6350 escapes text only,
 * and a reader that does not unescape URIs would get a broken data: URI. Serialised with a
 * design whose URIs are written as they are (ical.js still reads both forms).
 */
const vcardDesign = ICAL.design.vcard as unknown as Record<string, unknown> & { value: Record<string, unknown> };
const VCARD4 = { ...vcardDesign, value: { ...vcardDesign.value, uri: { toICAL: (v: string) => v, fromICAL: (v: string) => v } } };

interface GraphAddress {
  street?: string;
  city?: string;
  state?: string;
  countryOrRegion?: string;
  postalCode?: string;
}

function text(c: ICAL.Component, name: string, value: string | null | undefined, params: Record<string, string> = {}): void {
  if (!value) return;
  const p = new ICAL.Property(name);
  for (const [k, v] of Object.entries(params)) p.setParameter(k, v);
  p.setValue(value);
  c.addProperty(p);
}

function address(c: ICAL.Component, a: unknown, type: string): void {
  const x = (a ?? {}) as GraphAddress;
  if (!x.street && !x.city && !x.state && !x.postalCode && !x.countryOrRegion) return;
  const p = new ICAL.Property('adr');
  p.setParameter('type', type);
  p.setValue(['', '', x.street ?? '', x.city ?? '', x.state ?? '', x.postalCode ?? '', x.countryOrRegion ?? ''] as never);
  c.addProperty(p);
}

/** A contact (Graph's resource) with its photo as a vCard 4.0. */
export function contactToVcard(contact: GraphContact, photo: { bytes: Buffer; contentType: string } | null): string {
  const c = new ICAL.Component('vcard');
  c.updatePropertyWithValue('version', '4.0'); // first, as RFC 6350 requires
  text(c, 'uid', `urn:x-ms-graph:contact:${contact.id}`);
  const fn = contact.displayName || [contact.givenName, contact.surname].filter(Boolean).join(' ') || contact.emailAddresses?.[0]?.address || '';
  text(c, 'fn', fn || '(no name)');
  const n = new ICAL.Property('n');
  n.setValue([contact.surname ?? '', contact.givenName ?? '', contact.middleName ?? '', typeof contact.title === 'string' ? contact.title : '', typeof contact.generation === 'string' ? contact.generation : ''] as never);
  c.addProperty(n);
  if (typeof contact.nickName === 'string') text(c, 'nickname', contact.nickName);
  (contact.emailAddresses ?? []).forEach((e, i) => text(c, 'email', e.address, i === 0 ? { pref: '1' } : {}));
  text(c, 'tel', contact.mobilePhone, { type: 'cell' });
  for (const t of contact.businessPhones ?? []) text(c, 'tel', t, { type: 'work' });
  for (const t of contact.homePhones ?? []) text(c, 'tel', t, { type: 'home' });
  if (contact.companyName || typeof contact.department === 'string') {
    const org = new ICAL.Property('org');
    org.setValue([contact.companyName ?? '', ...(typeof contact.department === 'string' && contact.department ? [contact.department] : [])] as never);
    c.addProperty(org);
  }
  text(c, 'title', contact.jobTitle);
  if (contact.birthday) text(c, 'bday', contact.birthday.slice(0, 10).replace(/-/g, ''));
  address(c, contact.homeAddress, 'home');
  address(c, contact.businessAddress, 'work');
  address(c, contact.otherAddress, 'other');
  text(c, 'note', contact.personalNotes);
  const categories = Array.isArray(contact.categories) ? (contact.categories as unknown[]).filter((x): x is string => typeof x === 'string') : [];
  if (categories.length) {
    const p = new ICAL.Property('categories');
    p.setValues(categories);
    c.addProperty(p);
  }
  if (photo) {
    const p = new ICAL.Property('photo');
    p.setValue(`data:${photo.contentType};base64,${photo.bytes.toString('base64')}`);
    c.addProperty(p);
  }
  if (typeof contact.lastModifiedDateTime === 'string') text(c, 'rev', contact.lastModifiedDateTime.replace(/[-:]/g, '').replace(/\.\d+/, ''));
  return `${ICAL.stringify.component(c.toJSON() as never, VCARD4 as never)}\r\n`;
}

/** The photo of a vCard (a data: URI), or null. */
export function vcardPhoto(vcard: ICAL.Component): { bytes: Buffer; contentType: string } | null {
  const v = vcard.getFirstPropertyValue('photo');
  const m = typeof v === 'string' ? /^data:([^;,]+)(;base64)?,(.*)$/s.exec(v) : null;
  if (!m) return null;
  return { contentType: m[1]!, bytes: m[2] ? Buffer.from(m[3]!, 'base64') : Buffer.from(decodeURIComponent(m[3]!), 'utf8') };
}

/** Stored vCards one after another: a VCF file. */
export async function* vcfChunks(items: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  for await (const item of items) {
    const t = typeof item === 'string' ? item : item.toString('utf8');
    yield t.endsWith('\n') ? t : `${t}\r\n`;
  }
}

/** Writes the VCF of `items` to `out`, honouring back-pressure (for an export download). */
export async function contactsExport(items: AsyncIterable<Buffer | string>, out: Writable): Promise<void> {
  await writeAll(vcfChunks(items), out);
}
