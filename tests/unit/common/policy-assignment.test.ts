import { describe, expect, it } from 'vitest';
import type { AssignmentRules } from '../../../common/api/policies.js';
import { matchVm, planAssignments, type AssignablePolicy, type AssignableVm } from '../../../common/policy-assignment.js';

const rules = (r: Partial<AssignmentRules>): AssignmentRules => ({ include: [], exclude: [], hypervisors: [], mode: 'assign-only', ...r });
const policy = (id: number, priority: number, r: Partial<AssignmentRules>): AssignablePolicy => ({ id, name: `p${id}`, priority, assignment: rules(r) });
const vm = (id: number, name: string, o: Partial<AssignableVm> = {}): AssignableVm => ({ id, name, hypervisor: 'kvm1', present: true, current: null, ...o });

describe('matchVm', () => {
  it('includes by name or by host, and an exclude always wins', () => {
    expect(matchVm(rules({ include: ['^prod-'] }), { name: 'prod-db', hypervisor: 'kvm1' })).toEqual({ matches: true, reason: 'name matches ^prod-' });
    expect(matchVm(rules({ hypervisors: ['kvm2'] }), { name: 'x', hypervisor: 'kvm2' })).toEqual({ matches: true, reason: 'on hypervisor kvm2' });
    // A hypervisor's name is the same name in any case.
    expect(matchVm(rules({ hypervisors: ['KVM2 '] }), { name: 'x', hypervisor: 'kvm2' })).toEqual({ matches: true, reason: 'on hypervisor kvm2' });
    expect(matchVm(rules({ include: ['^prod-'], exclude: ['-test$'] }), { name: 'prod-db-test', hypervisor: 'kvm1' })).toEqual({ matches: false, reason: 'excluded by -test$' });
    expect(matchVm(rules({ hypervisors: ['kvm1'], exclude: ['^tmp'] }), { name: 'tmp1', hypervisor: 'kvm1' })).toEqual({ matches: false, reason: 'excluded by ^tmp' });
    expect(matchVm(rules({ include: ['^prod-'] }), { name: 'dev-db', hypervisor: 'kvm1' })).toEqual({ matches: false, reason: 'matches no include rule' });
    expect(matchVm(rules({}), { name: 'anything', hypervisor: 'kvm1' }).matches).toBe(false);
  });
});

describe('planAssignments', () => {
  it('gives an unassigned VM to the highest-priority matching policy, then the oldest', () => {
    const plan = planAssignments([policy(1, 50, { include: ['^prod-'] }), policy(2, 90, { include: ['-db$'] }), policy(3, 90, { include: ['^prod-db'] })], [vm(10, 'prod-db'), vm(11, 'prod-web'), vm(12, 'dev')]);
    expect(plan).toEqual({ assign: [{ vmId: 10, policyId: 2 }, { vmId: 11, policyId: 1 }], unassign: [] });
  });

  it('never touches a manual assignment, nor a VM that vanished', () => {
    const plan = planAssignments([policy(1, 50, { include: ['.'] })], [vm(10, 'a', { current: { policyId: 9, source: 'manual' } }), vm(11, 'b', { present: false })]);
    expect(plan).toEqual({ assign: [], unassign: [] });
  });

  it('assign-only keeps a VM that stopped matching; assign-and-remove moves it to the next match or takes it out', () => {
    const auto = (policyId: number) => ({ current: { policyId, source: 'auto' as const } });
    const only = planAssignments([policy(1, 50, { include: ['^x'] })], [vm(10, 'y', auto(1))]);
    expect(only).toEqual({ assign: [], unassign: [] });
    const remove = planAssignments([policy(1, 50, { include: ['^x'], mode: 'assign-and-remove' }), policy(2, 10, { include: ['^y'] })], [vm(10, 'y', auto(1)), vm(11, 'z', auto(1))]);
    expect(remove).toEqual({ assign: [{ vmId: 10, policyId: 2 }], unassign: [11] });
    // Still matching: stays where it is, even if a higher-priority policy matches too.
    const stays = planAssignments([policy(1, 10, { include: ['^y'] }), policy(2, 90, { include: ['^y'] })], [vm(10, 'y', auto(1))]);
    expect(stays).toEqual({ assign: [], unassign: [] });
  });
});
