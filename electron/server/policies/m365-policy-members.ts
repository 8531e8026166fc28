import { m365MembersOf, m365Owners, type M365Policy } from '../../../common/m365-policy-members.js';
import type { M365InventoryRepository, M365PolicyOf, M365Protectable } from '../m365/m365-inventory.repository.js';
import { json, type PoliciesRepository, type PolicyRow } from './policies.repository.js';

/**
 * The members of m365 policies, computed from their rules and the tenants' present inventory
 * whenever they are asked for (a run, a policy's page, the users and sites lists): nothing is
 * stored, so a sync that finds a new user or site puts it in its policy at once. The
 * highest-priority matching policy owns an object (common/m365-policy-members.ts).
 */
export class M365PolicyMembers {
  constructor(
    private readonly policies: Pick<PoliciesRepository, 'list'>,
    private readonly inventory: Pick<M365InventoryRepository, 'protectable'>,
  ) {}

  /** The users and sites the policy backs up now, its tenants' then names' order. */
  async of(policy: Pick<PolicyRow, 'id'>): Promise<M365Protectable[]> {
    return m365MembersOf(policy.id, await this.m365Policies(), await this.inventory.protectable());
  }

  /** The owning policy's name of each user and site ("user:<id>", "site:<id>"). */
  async policyOf(): Promise<M365PolicyOf> {
    const owners = m365Owners(await this.m365Policies(), await this.inventory.protectable());
    return (key) => owners.get(key)?.name ?? null;
  }

  private async m365Policies(): Promise<M365Policy[]> {
    return (await this.policies.list()).filter((p) => p.kind === 'm365').map((p) => ({ id: p.id, name: p.name, priority: p.priority, assignment: json(p.assignment) }));
  }
}
