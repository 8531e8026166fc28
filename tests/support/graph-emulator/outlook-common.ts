/**
 * What the mail, calendar and contacts routes share: the mailbox a /users/{id}/... path names,
 * and Exchange's errors. A user without an Exchange Online mailbox answers 404
 * MailboxNotEnabledForRESTAPI, as the service does for unlicensed, soft-deleted or on-premises
 * mailboxes.
 */
import type { Tenant } from './directory.model.js';
import type { DriveOwnerRef } from './drive.model.js';
import { GraphError } from './errors.js';
import type { GraphContext } from './graph-routes.js';
import type { Mailbox } from './mailbox.model.js';

export const outlookNotFound = (): GraphError => new GraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');

export function mailboxOwner(m: RegExpExecArray, tenant: Tenant): DriveOwnerRef | undefined {
  const u = tenant.findUser(decodeURIComponent(m[1]!));
  return u ? { kind: 'user', id: u.id, name: u.userPrincipalName } : undefined;
}

/** The mailbox of /users/{id | UPN}; waits while a test holds the mailbox (Mailbox.hold). */
export async function mailboxOf(ctx: GraphContext, ref: string): Promise<Mailbox> {
  const id = decodeURIComponent(ref);
  const u = ctx.tenant.findUser(id);
  if (!u) throw new GraphError(404, 'ErrorInvalidUser', `The requested user '${id}' is invalid.`);
  if (!u.mailbox) throw new GraphError(404, 'MailboxNotEnabledForRESTAPI', 'REST API is not yet supported for this mailbox.');
  await u.mailbox.passGate();
  return u.mailbox;
}
