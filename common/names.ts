/**
 * Names of things people type: users, destinations, nodes, policies, hypervisors, VMs.
 *
 * A name is stored in its canonical form (Unicode NFC, surrounding white space removed) and
 * shown as stored. Two names are the same name when their keys are equal: the key folds what
 * the catalog's collation (utf8mb4_unicode_ci, PAD SPACE) treats as equal — case, accents and
 * other combining marks, compatibility forms ("ﬁ", full-width letters), characters a
 * collation ignores (zero-width spaces, soft hyphens) and surrounding spaces. The catalog's
 * unique indexes refuse a second row of the same name; lookups by name, uniqueness checks and
 * the sign-in throttle all use the key, so they agree on what "the same name" is.
 */

/** The form a name is stored and shown in. */
export function canonicalName(name: string): string {
  return name.normalize('NFC').trim();
}

const IGNORED = /[\p{M}\p{Default_Ignorable_Code_Point}]/gu;

/** The identity of a name: equal keys, same name. */
export function nameKey(name: string): string {
  // Upper then lower case folds what lower case alone does not (ß → SS → ss, final sigma).
  return name.normalize('NFKD').replace(IGNORED, '').trim().toUpperCase().toLowerCase().normalize('NFC');
}

export function sameName(a: string, b: string): boolean {
  return nameKey(a) === nameKey(b);
}

/** All digits: such a reference means an id, so no name may look like one. */
export function looksLikeId(ref: string): boolean {
  return /^\d+$/.test(ref.trim());
}

export const ID_LIKE_NAME_MESSAGE = 'a name cannot be only digits (numbers refer to ids)';

/** For schemas: a name is not read as an id (a reference of digits means an id). */
export const notIdLike = (name: string): boolean => !looksLikeId(nameKey(name));

/** Letters and digits of any script (accents included), then also the given punctuation. */
export function unicodeNamePattern(punctuation: string): RegExp {
  return new RegExp(`^[\\p{L}\\p{N}][\\p{L}\\p{M}\\p{N}${punctuation}]*$`, 'u');
}
