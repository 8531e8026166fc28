import { describe, expect, it } from 'vitest';
import { canonicalName, looksLikeId, nameKey, sameName } from '../../../common/names.js';

describe('canonical names', () => {
  it('stores names in NFC without surrounding white space, keeping case and accents', () => {
    expect(canonicalName('  Nás ')).toBe('Nás');
    expect(canonicalName('Nae\u0301')).toBe('Naé'); // decomposed é (macOS input) → composed
    expect(canonicalName('Nae\u0301')).toHaveLength(3);
    expect(canonicalName('nightly backup')).toBe('nightly backup');
  });

  it.each([
    ['victim', 'VICTIM'],
    ['victim', 'victim '],
    ['victim', ' victim\t'],
    ['victim', 'vïctim'],
    ['victim', 'VÍCTIM'],
    ['victim', 'vi\u0301ctim'],
    ['victim', 'vic\u200Btim'], // zero-width space: ignored by the collation
    ['victim', 'vic\u00ADtim'], // soft hyphen
    ['victim', 'ｖｉｃｔｉｍ'], // full-width letters
    ['office', 'oﬃce'], // ligature
    ['strasse', 'Straße'],
    ['élan', 'ELAN'],
    ['ǅemal', 'džemal'],
  ])('%j and %j are the same name', (a, b) => {
    expect(nameKey(a)).toBe(nameKey(b));
    expect(sameName(a, b)).toBe(true);
  });

  it.each([
    ['victim', 'victim2'],
    ['victim', 'vic tim'],
    ['nightly backup', 'nightly  backup'],
    ['nas-1', 'nas_1'],
    ['søren', 'soren'], // ø is a letter of its own, not o with a mark
  ])('%j and %j are different names', (a, b) => {
    expect(sameName(a, b)).toBe(false);
  });

  it('keys are lower case, unaccented NFC text', () => {
    expect(nameKey('  Prod-DB Ünïcode ')).toBe('prod-db unicode');
    expect(nameKey('ÅSA')).toBe('asa');
    expect(nameKey('ΣΊΣΥΦΟΣ')).toBe(nameKey('σίσυφος'));
  });

  it('tells references that mean an id', () => {
    expect(looksLikeId('42')).toBe(true);
    expect(looksLikeId(' 7 ')).toBe(true);
    expect(looksLikeId('7a')).toBe(false);
    expect(looksLikeId('')).toBe(false);
  });
});
