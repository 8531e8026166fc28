import { M365SyncNodeParamsSchema, type M365SyncResult } from '../../../common/m365-tasks.js';
import { CloudError } from '../../cloud/graph/cloud-errors.js';
import { listSites, listUsers } from '../../cloud/graph/directory.js';
import { TaskError, type TaskHandler, type TaskRunContext } from '../task-handler.js';
import { parseOwn } from './kvm-task.js';
import { withTenant } from './m365-tenant.js';

/**
 * M365_SYNC: the tenant's users (with their OneDrive) and SharePoint sites (with their document
 * libraries), read through Graph with the settings the server added at dispatch. A part that
 * a missing permission keeps from being listed is a warning and comes back null, so the server
 * keeps what it knew of it; a sign-in failure or an unreachable host fails the task with its
 * sentence.
 */
export function m365SyncHandler(deps: { nodeName: string }): TaskHandler {
  return {
    type: 'M365_SYNC',
    async run(ctx: TaskRunContext) {
      const { tenant } = parseOwn(ctx, M365SyncNodeParamsSchema);
      const warnings: string[] = [];
      const part = async <T>(what: string, list: () => Promise<T[]>): Promise<T[] | null> => {
        try {
          const items = await list();
          ctx.log('info', `${items.length} ${what}`);
          return items;
        } catch (err) {
          if (err instanceof CloudError && err.code === 'M365_PERMISSION_MISSING') {
            warnings.push(`the ${what} were not listed: ${err.message}`);
            return null;
          }
          throw err;
        }
      };
      try {
        const result: M365SyncResult = await withTenant(tenant, {}, async (s) => {
          // Sign in first: a wrong credential is one clear failure rather than two.
          await s.tokens.token();
          ctx.progress(0, null, 'listing the users');
          const users = await part('users', () => listUsers(s.graph, ctx.signal, (w) => warnings.push(w)));
          ctx.progress(0, null, 'listing the SharePoint sites');
          const sites = await part('SharePoint sites', () => listSites(s.graph, ctx.signal));
          return { users, sites };
        });
        if (result.users === null && result.sites === null) return { failed: `nothing could be listed on node ${deps.nodeName}: ${warnings.join('; ')}`, warnings };
        return { result, warnings };
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        if (err instanceof CloudError) throw new TaskError(`${err.message} (on node ${deps.nodeName})`, err.code);
        throw err;
      }
    },
  };
}
