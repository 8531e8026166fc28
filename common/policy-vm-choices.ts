/**
 * The policy form's VM checklist (pure): which VMs it lists, what each row says, and what
 * saving it changes. A ticked VM is in the policy by hand (a manual assignment); the rules
 * (common/policy-assignment.ts) take in the others they match. A VM is in at most one policy
 * of a kind, so ticking one that another policy of the kind has moves it here.
 */
import type { PolicyPreview } from './api/policies.js';

export interface VmChoice {
  vmId: number;
  name: string;
  /** null: not on its host now (it vanished, and is still in the policy by hand). */
  hypervisor: string | null;
  /** The rules as typed take it in (why, or why not, in `reason`). */
  matches: boolean;
  reason: string;
  /** Its policy of this kind now. */
  current: { policyId: number; name: string; source: 'auto' | 'manual' } | null;
}

export interface PolicyMembers {
  id: number;
  name: string;
  vms: readonly { id: number; name: string; source: 'auto' | 'manual' }[];
}

/**
 * The VMs the checklist offers: every VM on a host (the preview lists those), and the ones
 * in the policy by hand that are not on a host now, so they can be seen and unticked.
 * By host, then by name.
 */
export function vmChoices(rows: PolicyPreview['assignment'], policy: PolicyMembers | undefined): VmChoice[] {
  const choices: VmChoice[] = rows.map((row) => ({
    vmId: row.vmId,
    name: row.vm,
    hypervisor: row.hypervisor,
    matches: row.matches,
    reason: row.reason,
    current: row.currentPolicyId === null || row.currentSource === null ? null : { policyId: row.currentPolicyId, name: row.currentPolicy ?? `policy ${row.currentPolicyId}`, source: row.currentSource },
  }));
  const listed = new Set(choices.map((choice) => choice.vmId));
  for (const vm of policy?.vms ?? []) {
    if (vm.source !== 'manual' || listed.has(vm.id)) continue;
    choices.push({ vmId: vm.id, name: vm.name, hypervisor: null, matches: false, reason: 'not on its host now', current: { policyId: policy!.id, name: policy!.name, source: 'manual' } });
  }
  return choices.sort((a, b) => hostOrder(a.hypervisor, b.hypervisor) || a.name.localeCompare(b.name) || a.vmId - b.vmId);
}

/** Hosts by name; VMs on no host last. */
function hostOrder(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a.localeCompare(b);
}

/** The choices grouped by host, in order (null: not on a host now). */
export function byHost(choices: readonly VmChoice[]): { hypervisor: string | null; choices: VmChoice[] }[] {
  const groups: { hypervisor: string | null; choices: VmChoice[] }[] = [];
  for (const choice of choices) {
    const last = groups[groups.length - 1];
    if (last !== undefined && last.hypervisor === choice.hypervisor) last.choices.push(choice);
    else groups.push({ hypervisor: choice.hypervisor, choices: [choice] });
  }
  return groups;
}

/** Matches the search box: a part of the VM's name or of its host's, in any case. */
export function choiceMatches(choice: VmChoice, search: string): boolean {
  const words = search.trim().toLowerCase();
  if (words === '') return true;
  return choice.name.toLowerCase().includes(words) || (choice.hypervisor ?? '').toLowerCase().includes(words);
}

export type VmChoiceTone = 'plain' | 'move' | 'leave';

export interface VmChoiceNote {
  text: string;
  /** move: it leaves another policy for this one; leave: it leaves this policy. */
  tone: VmChoiceTone;
}

/**
 * What a row says besides the VM's name: where the VM is now, and what saving does to it
 * when that is not plain from the tick (a move from another policy, a VM leaving this one).
 * `policyId` is the policy being edited (undefined: a new one).
 */
export function vmChoiceNote(choice: VmChoice, ticked: boolean, policyId: number | undefined): VmChoiceNote | null {
  const current = choice.current;
  if (current !== null && current.policyId === policyId) {
    if (current.source === 'manual') {
      if (ticked) return choice.hypervisor === null ? { text: 'In this policy by hand; not on its host now', tone: 'plain' } : null;
      // Taken out by hand, a VM the rules match is theirs at once (the server applies them after).
      return choice.matches ? { text: 'No longer by hand; its rules keep it in', tone: 'plain' } : { text: 'Leaves this policy', tone: 'leave' };
    }
    return ticked ? { text: 'In this policy by its rules; ticked, it stays even when they stop matching', tone: 'plain' } : { text: 'In this policy by its rules', tone: 'plain' };
  }
  if (current !== null) return ticked ? { text: `Moves here from policy ${current.name}`, tone: 'move' } : { text: `In policy ${current.name}`, tone: 'plain' };
  return null;
}

export interface VmChange {
  /** VM ids to put in by hand. */
  assign: number[];
  /** VM ids to take out. */
  unassign: number[];
}

/**
 * What saving the checklist changes, against the policy as the server has it now (`members`,
 * just saved): the ticked VMs not in it by hand go in; the VMs that were in it by hand when
 * the form opened and are unticked come out, if they still are. Only what was changed in the
 * form is sent, so a VM another admin added meanwhile stays.
 */
export function vmChange(ticked: readonly number[], initiallyManual: readonly number[], members: PolicyMembers['vms']): VmChange {
  const manualNow = new Set(members.filter((vm) => vm.source === 'manual').map((vm) => vm.id));
  const tickedSet = new Set(ticked);
  return {
    assign: [...tickedSet].filter((id) => !manualNow.has(id)),
    unassign: [...new Set(initiallyManual)].filter((id) => !tickedSet.has(id) && manualNow.has(id)),
  };
}

/** The VM a refusal of a change names ("assign.1", "unassign.0"), if it names one. */
export function refusedVm(field: string | undefined, change: VmChange): number | undefined {
  const match = /^(assign|unassign)\.(\d+)$/.exec(field ?? '');
  if (match === null) return undefined;
  return change[match[1] as 'assign' | 'unassign'][Number(match[2])];
}
