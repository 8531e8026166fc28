import { describe, expect, it } from 'vitest';
import { m365MembersOf, m365Owners, matchM365, type M365Candidate, type M365Policy } from '../../../common/m365-policy-members.js';

const rules = (include: string[], exclude: string[] = []) => ({ include, exclude });
const policy = (id: number, name: string, priority: number, include: string[], exclude: string[] = []): M365Policy => ({ id, name, priority, assignment: rules(include, exclude) });

const alice: M365Candidate = { kind: 'user', id: 1, name: 'alice@contoso.onmicrosoft.com' };
const alan: M365Candidate = { kind: 'user', id: 2, name: 'Alan@Contoso.onmicrosoft.com' };
const bob: M365Candidate = { kind: 'user', id: 3, name: 'bob@contoso.onmicrosoft.com' };
const finance: M365Candidate = { kind: 'site', id: 1, name: 'finance', displayName: 'Finance Team' };
const hr: M365Candidate = { kind: 'site', id: 2, name: 'hr', displayName: 'Human Resources' };

describe('Microsoft 365 policy members', () => {
  it('matches user principal names and site names in any case; exclude wins', () => {
    expect(matchM365(rules(['^AL']), alan)).toEqual({ matches: true, reason: 'name matches ^AL' });
    expect(matchM365(rules(['^al'], ['^alan@']), alan)).toEqual({ matches: false, reason: 'excluded by ^alan@' });
    expect(matchM365(rules(['^al']), bob)).toEqual({ matches: false, reason: 'matches no include rule' });
    expect(matchM365(rules([]), bob).matches).toBe(false);
  });

  it('matches a site by its name or its display name', () => {
    expect(matchM365(rules(['^finance$']), finance).matches).toBe(true);
    expect(matchM365(rules(['team$']), finance).matches).toBe(true);
    expect(matchM365(rules(['.'], ['^human']), hr)).toEqual({ matches: false, reason: 'excluded by ^human' });
  });

  it('the highest-priority matching policy owns an object (then the oldest); the others do not back it up', () => {
    const everyone = policy(1, 'everyone', 10, ['.']);
    const execs = policy(2, 'execs', 80, ['^al'], ['^alan@']);
    const twin = policy(3, 'twin', 80, ['^alice@']);
    const all = [alice, alan, bob, finance, hr];
    const owners = m365Owners([everyone, execs, twin], all);
    expect([...owners].map(([key, p]) => [key, p.name])).toEqual([
      ['user:1', 'execs'],
      ['user:2', 'everyone'],
      ['user:3', 'everyone'],
      ['site:1', 'everyone'],
      ['site:2', 'everyone'],
    ]);
    expect(m365MembersOf(2, [everyone, execs, twin], all)).toEqual([alice]);
    expect(m365MembersOf(3, [everyone, execs, twin], all)).toEqual([]);
    expect(m365MembersOf(1, [everyone, execs, twin], all).map((c) => c.name)).toEqual([alan.name, bob.name, 'finance', 'hr']);
  });

  it('users and sites are keyed apart: a user and a site with the same id are two objects', () => {
    const p = policy(1, 'p', 50, ['^alice@', '^finance$']);
    expect(m365MembersOf(1, [p], [alice, { ...finance, id: 1 }])).toHaveLength(2);
  });
});
