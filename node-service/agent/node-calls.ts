import type { CallError, NodeCall, NodeCallResult } from '../../common/node-protocol.js';
import { CloudError } from '../cloud/graph/cloud-errors.js';
import { KvmError, KvmSnapshots, Virsh, type CommandRunner, type KvmExportRegistry } from '../platforms/kvm/index.js';
import { RepositoryError } from '../repository/index.js';
import { testTenant } from './handlers/m365-tenant.js';
import { openRepository, openRepositoryWithRecoveryKey } from './repository-location.js';

export interface NodeCallsDeps {
  nodeName: string;
  runner: CommandRunner;
  /** The exports EXPORT tasks keep open for their STORE (the KVM handlers' registry). */
  exports?: KvmExportRegistry;
}

type Answers = { [Op in NodeCall['op']]: (args: Extract<NodeCall, { op: Op }>['args']) => Promise<NodeCallResult<Op>> };

/**
 * What the server asks this node for and waits on (node.call → call.result): quick
 * questions that are no task (listing a VM's snapshots, a new repository's recovery key, a
 * Microsoft 365 tenant's connection test), and the one write that must leave no trace in the
 * catalog (a new repository password set with the recovery key). Failures answer with a code
 * and a sentence naming this node.
 */
export class NodeCalls {
  private readonly answers: Answers;

  constructor(private readonly deps: NodeCallsDeps) {
    this.answers = {
      'snapshots.list': async ({ uri, vm }) => ({ snapshots: await new KvmSnapshots(new Virsh(deps.runner, uri)).list(vm.uuid, vm.name) }),
      'repository.recoveryKey': async ({ path, s3, password }) => {
        const repository = await openRepository({ path, s3 }, { password }, { threads: 1 });
        try {
          return { recoveryKey: repository.recoveryKey() };
        } finally {
          await repository.close();
        }
      },
      'm365.test': ({ tenant }) => testTenant(tenant),
      'kvm.endExport': async ({ exportId }) => ({ ended: (await deps.exports?.end(exportId)) ?? false }),
      'repository.resetPassword': async ({ path, s3, recoveryKey, password }) => {
        const repository = await openRepositoryWithRecoveryKey({ path, s3 }, recoveryKey, { threads: 1 });
        try {
          await repository.changePassword(password);
          return { repositoryId: repository.id };
        } finally {
          await repository.close();
        }
      },
    };
  }

  async answer(call: NodeCall): Promise<{ result: unknown } | { error: CallError }> {
    try {
      // The union of ops is checked by the schema; each answer takes its own op's args.
      const answer = this.answers[call.op] as (args: NodeCall['args']) => Promise<unknown>;
      return { result: await answer(call.args) };
    } catch (err) {
      if (err instanceof KvmError) {
        const message = err.code === 'KVM_DOMAIN_NOT_FOUND' ? `${err.message.replace(/\.$/, '')}; sync the inventory of this host` : err.message.replace(/\.$/, '');
        return { error: { code: err.code, message: `${message} (on node ${this.deps.nodeName})`.slice(0, 4000) } };
      }
      if (err instanceof CloudError) return { error: { code: err.code, message: `${err.message.replace(/\.$/, '')} (on node ${this.deps.nodeName})`.slice(0, 4000) } };
      if (err instanceof RepositoryError) return { error: { code: err.code, message: `${err.message.replace(/\.$/, '')} (on node ${this.deps.nodeName})`.slice(0, 4000) } };
      return { error: { code: 'NODE_CALL_FAILED', message: `${call.op} failed on node ${this.deps.nodeName}: ${(err as Error).message}`.slice(0, 4000) } };
    }
  }
}
