import { describe, expect, it } from 'vitest';
import type { PolicyPreview } from '../../../common/api/policies.js';
import { byHost, choiceMatches, refusedVm, vmChange, vmChoiceNote, vmChoices, type VmChoice } from '../../../common/policy-vm-choices.js';

type Row = PolicyPreview['assignment'][number];
const row = (vmId: number, vm: string, o: Partial<Row> = {}): Row => ({
  vmId,
  vm,
  hypervisor: 'kvm1',
  matches: false,
  reason: 'matches no include rule',
  currentPolicy: null,
  currentPolicyId: null,
  currentSource: null,
  ...o,
});
const choice = (o: Partial<VmChoice> = {}): VmChoice => ({ vmId: 1, name: 'a', hypervisor: 'kvm1', matches: false, reason: '', current: null, ...o });

describe('vmChoices', () => {
  it('lists the VMs on hosts by host and name, and the policy’s own hand-picked VMs that left their host', () => {
    const rows = [row(3, 'web', { hypervisor: 'kvm2' }), row(2, 'db', { currentPolicy: 'nightly', currentPolicyId: 7, currentSource: 'auto', matches: true, reason: 'name matches ^d' }), row(1, 'app')];
    const policy = { id: 7, name: 'nightly', vms: [{ id: 2, name: 'db', source: 'auto' as const }, { id: 9, name: 'gone', source: 'manual' as const }, { id: 8, name: 'auto-gone', source: 'auto' as const }] };
    const choices = vmChoices(rows, policy);
    expect(choices.map((c) => `${c.hypervisor ?? '-'}/${c.name}`)).toEqual(['kvm1/app', 'kvm1/db', 'kvm2/web', '-/gone']);
    expect(choices[1]).toMatchObject({ vmId: 2, matches: true, current: { policyId: 7, name: 'nightly', source: 'auto' } });
    expect(choices[3]).toMatchObject({ vmId: 9, hypervisor: null, current: { policyId: 7, source: 'manual' } });
    expect(byHost(choices).map((g) => [g.hypervisor, g.choices.length])).toEqual([['kvm1', 2], ['kvm2', 1], [null, 1]]);
    // A new policy has no members of its own.
    expect(vmChoices(rows, undefined)).toHaveLength(3);
  });

  it('searches names and hosts, in any case', () => {
    expect(choiceMatches(choice({ name: 'Prod-DB' }), ' prod-d')).toBe(true);
    expect(choiceMatches(choice({ name: 'x', hypervisor: 'office-KVM' }), 'kvm')).toBe(true);
    expect(choiceMatches(choice({ name: 'x', hypervisor: null }), 'kvm')).toBe(false);
    expect(choiceMatches(choice(), '')).toBe(true);
  });
});

describe('vmChoiceNote', () => {
  const other = { policyId: 4, name: 'Nightly', source: 'auto' as const };
  it('says a VM of another policy moves here only once it is ticked', () => {
    expect(vmChoiceNote(choice({ current: other }), false, undefined)).toEqual({ text: 'In policy Nightly', tone: 'plain' });
    expect(vmChoiceNote(choice({ current: other }), true, undefined)).toEqual({ text: 'Moves here from policy Nightly', tone: 'move' });
    expect(vmChoiceNote(choice({ current: { ...other, source: 'manual' } }), true, 7)).toEqual({ text: 'Moves here from policy Nightly', tone: 'move' });
    expect(vmChoiceNote(choice(), true, 7)).toBeNull();
  });

  it('says what unticking does to one of this policy’s VMs', () => {
    const mine = { policyId: 7, name: 'mine', source: 'manual' as const };
    expect(vmChoiceNote(choice({ current: mine }), true, 7)).toBeNull();
    expect(vmChoiceNote(choice({ current: mine }), false, 7)).toEqual({ text: 'Leaves this policy', tone: 'leave' });
    expect(vmChoiceNote(choice({ current: mine, matches: true }), false, 7)).toEqual({ text: 'No longer by hand; its rules keep it in', tone: 'plain' });
    expect(vmChoiceNote(choice({ current: mine, hypervisor: null }), true, 7)?.text).toBe('In this policy by hand; not on its host now');
    const byRules = { ...mine, source: 'auto' as const };
    expect(vmChoiceNote(choice({ current: byRules }), false, 7)?.text).toBe('In this policy by its rules');
    expect(vmChoiceNote(choice({ current: byRules }), true, 7)?.text).toMatch(/stays even when they stop matching/);
  });
});

describe('vmChange', () => {
  it('a new policy: every ticked VM goes in', () => {
    expect(vmChange([3, 1, 3], [], [{ id: 5, name: 'by-rules', source: 'auto' }])).toEqual({ assign: [3, 1], unassign: [] });
  });

  it('an edit: only what changed in the form, against the policy as it is now', () => {
    const now = [
      { id: 1, name: 'kept', source: 'manual' as const },
      { id: 2, name: 'unticked', source: 'manual' as const },
      { id: 3, name: 'auto-ticked', source: 'auto' as const },
      { id: 6, name: 'added meanwhile by someone else', source: 'manual' as const },
    ];
    // 4 was in by hand when the form opened, unticked, and already gone: nothing to take out.
    expect(vmChange([1, 3, 5], [1, 2, 4], now)).toEqual({ assign: [3, 5], unassign: [2] });
    expect(vmChange([1, 2], [1, 2], now)).toEqual({ assign: [], unassign: [] });
  });

  it('finds the VM a refusal names', () => {
    const change = { assign: [3, 5], unassign: [2] };
    expect(refusedVm('assign.1', change)).toBe(5);
    expect(refusedVm('unassign.0', change)).toBe(2);
    expect(refusedVm('assign', change)).toBeUndefined();
    expect(refusedVm(undefined, change)).toBeUndefined();
  });
});
