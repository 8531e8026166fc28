/**
 * Auto-assignment of VMs to policies (pure). A VM is included by a name regex or by its
 * hypervisor, and an exclude regex always wins. A VM is in at most one policy of a kind:
 * the highest priority matching policy (then the oldest) takes it. Manual assignments are
 * never changed here. An auto-assigned VM that stops matching stays in an "assign-only"
 * policy and leaves an "assign-and-remove" one (and may then match another policy).
 */
import type { AssignmentRules } from './api/policies.js';
import { sameName } from './names.js';

export interface AssignablePolicy {
  id: number;
  name: string;
  priority: number;
  assignment: AssignmentRules;
}

export interface AssignableVm {
  id: number;
  name: string;
  hypervisor: string;
  present: boolean;
  current: { policyId: number; source: 'auto' | 'manual' } | null;
}

export interface Match {
  matches: boolean;
  reason: string;
}

export function matchVm(rules: AssignmentRules, vm: { name: string; hypervisor: string }): Match {
  const excludedBy = rules.exclude.find((re) => new RegExp(re).test(vm.name));
  const includedBy = rules.include.find((re) => new RegExp(re).test(vm.name));
  // Hypervisor names as names are compared everywhere (common/names.ts): "KVM1" is kvm1.
  const onHost = rules.hypervisors.some((h) => sameName(h, vm.hypervisor));
  if (excludedBy !== undefined && (includedBy !== undefined || onHost)) return { matches: false, reason: `excluded by ${excludedBy}` };
  if (includedBy !== undefined) return { matches: true, reason: `name matches ${includedBy}` };
  if (onHost) return { matches: true, reason: `on hypervisor ${vm.hypervisor}` };
  return { matches: false, reason: 'matches no include rule' };
}

export interface AssignmentPlan {
  assign: { vmId: number; policyId: number }[];
  unassign: number[];
}

const byPrecedence = (a: AssignablePolicy, b: AssignablePolicy): number => b.priority - a.priority || a.id - b.id;

export function planAssignments(policies: readonly AssignablePolicy[], vms: readonly AssignableVm[]): AssignmentPlan {
  const ordered = [...policies].sort(byPrecedence);
  const byId = new Map(policies.map((p) => [p.id, p]));
  const plan: AssignmentPlan = { assign: [], unassign: [] };
  for (const vm of vms) {
    if (vm.current?.source === 'manual') continue;
    if (vm.current) {
      const policy = byId.get(vm.current.policyId);
      if (!policy) continue;
      if (matchVm(policy.assignment, vm).matches || policy.assignment.mode === 'assign-only') continue;
      if (!vm.present) continue; // a VM that vanished keeps its policy until it comes back or is removed
      const next = ordered.find((p) => p.id !== policy.id && matchVm(p.assignment, vm).matches);
      if (next) plan.assign.push({ vmId: vm.id, policyId: next.id });
      else plan.unassign.push(vm.id);
      continue;
    }
    if (!vm.present) continue;
    const first = ordered.find((p) => matchVm(p.assignment, vm).matches);
    if (first) plan.assign.push({ vmId: vm.id, policyId: first.id });
  }
  return plan;
}
