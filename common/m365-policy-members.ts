/**
 * Members of Microsoft 365 policies (pure). A user is matched by its user principal name, a
 * site by its name or its display name, against the policy's include and exclude regexes,
 * case-insensitively (UPNs and site names are case-insensitive in Microsoft 365); an exclude
 * always wins.
 *
 * Members are not stored: they follow from the rules and the present inventory of every tenant
 * at each run, so a user added to the tenant is in its policy at the next sync. As with VMs,
 * an object is in at most one m365 policy: the highest-priority matching policy (then the
 * oldest) owns it and backs it up; another matching policy does not back it up a second time
 * (two policies writing points of the same drive to the same or to two destinations would only
 * double the work and split its retention).
 */
import type { AssignmentRules } from './api/policies.js';
import type { Match } from './policy-assignment.js';

export interface M365Candidate {
  kind: 'user' | 'site';
  /** Catalog id (m365_users.id or m365_sites.id). */
  id: number;
  /** The user's principal name or the site's name. */
  name: string;
  /** A site's display name, matched too ("Finance" for the site named "finance"). */
  displayName?: string;
}

export interface M365Policy {
  id: number;
  name: string;
  priority: number;
  assignment: Pick<AssignmentRules, 'include' | 'exclude'>;
}

/** "user:12", "site:3": an object's key in an owners map. */
export const m365MemberKey = (o: { kind: 'user' | 'site'; id: number }): string => `${o.kind}:${o.id}`;

export function matchM365(rules: Pick<AssignmentRules, 'include' | 'exclude'>, o: Pick<M365Candidate, 'name' | 'displayName'>): Match {
  const names = o.displayName !== undefined && o.displayName !== o.name ? [o.name, o.displayName] : [o.name];
  const hit = (res: readonly string[]) => res.find((re) => names.some((n) => new RegExp(re, 'i').test(n)));
  const includedBy = hit(rules.include);
  if (includedBy === undefined) return { matches: false, reason: 'matches no include rule' };
  const excludedBy = hit(rules.exclude);
  if (excludedBy !== undefined) return { matches: false, reason: `excluded by ${excludedBy}` };
  return { matches: true, reason: `name matches ${includedBy}` };
}

/** Which policy owns each candidate: its key (m365MemberKey) → the policy; candidates no policy matches are absent. */
export function m365Owners<P extends M365Policy>(policies: readonly P[], candidates: readonly M365Candidate[]): Map<string, P> {
  const ordered = [...policies].sort((a, b) => b.priority - a.priority || a.id - b.id);
  const owners = new Map<string, P>();
  for (const c of candidates) {
    const owner = ordered.find((p) => matchM365(p.assignment, c).matches);
    if (owner) owners.set(m365MemberKey(c), owner);
  }
  return owners;
}

/** The candidates a policy owns, in their given order. */
export function m365MembersOf<C extends M365Candidate>(policyId: number, policies: readonly M365Policy[], candidates: readonly C[]): C[] {
  const owners = m365Owners(policies, candidates);
  return candidates.filter((c) => owners.get(m365MemberKey(c))?.id === policyId);
}
