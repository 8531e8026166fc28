import type { Node } from '@common/api/index.js';

export type NodeAction = 'check' | 'log' | 'upgrade' | 'restart' | 'remove';

export interface NodeActionRule {
  /** Hidden entirely for roles that may not use it. */
  visible: boolean;
  /** Why it cannot be used right now, shown as its tooltip; null when it can. */
  disabledReason: string | null;
}

export interface Permissions {
  isAdmin: boolean;
  /** Operators and admins. */
  canChange: boolean;
}

const MANUAL = 'It was enrolled by hand; manage it on its own host';

/**
 * Which node actions a user sees and may use, in one pure place. Mirrors the server: checks and
 * logs need an operator, the rest an administrator; hand-enrolled nodes cannot be managed from
 * here; a node that runs tasks cannot be removed.
 */
export function nodeActionRules(node: Node, who: Permissions): Record<NodeAction, NodeActionRule> {
  const manual = node.installMethod === 'manual';
  const installing = node.status === 'installing';
  const rule = (visible: boolean, ...reasons: Array<string | false>): NodeActionRule => ({
    visible,
    disabledReason: reasons.find((reason): reason is string => reason !== false) ?? null,
  });
  return {
    check: rule(who.canChange, node.status !== 'online' && 'Only an online node can be checked'),
    log: rule(who.canChange, manual && MANUAL),
    upgrade: rule(who.isAdmin, manual && MANUAL, installing && 'Wait until the installation has ended'),
    restart: rule(who.isAdmin, manual && MANUAL, installing && 'Wait until the installation has ended'),
    remove: rule(
      who.isAdmin,
      installing && 'Wait until the installation has ended, or cancel it',
      node.runningTasks > 0 && `It is running ${node.runningTasks === 1 ? 'a task' : `${node.runningTasks} tasks`}; cancel them or wait until they end`,
    ),
  };
}
