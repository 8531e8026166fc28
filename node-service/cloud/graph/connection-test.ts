import { CloudError } from './cloud-errors.js';
import type { GraphClient } from './graph-client.js';
import type { TokenProvider } from './token-provider.js';

export interface PermissionCheck {
  permission: string;
  ok: boolean;
  message: string;
}

export interface ConnectionTestResult {
  ok: boolean;
  /** The application permissions the token carries (its roles claim). */
  roles: string[];
  checks: PermissionCheck[];
  /** One sentence: what works, or what is wrong and how to fix it. */
  message: string;
}

/**
 * "Test connection": signs in, then makes one read per permission the backup needs and names
 * the permission of each call Graph refuses (Graph's 403 does not say which is missing).
 */
export async function testConnection(graph: GraphClient, tokens: TokenProvider, signal?: AbortSignal): Promise<ConnectionTestResult> {
  const { roles } = await tokens.token(true); // a sign-in failure throws with its reason
  const checks: PermissionCheck[] = [];
  let firstUserId: string | null = null;
  const probe = async (permission: string, what: string, path: string, onOk?: (body: { value?: Array<{ id: string }> }) => void): Promise<void> => {
    try {
      const body = await graph.json<{ value?: Array<{ id: string }> }>(path, { what, signal });
      onOk?.(body);
      checks.push({ permission, ok: true, message: `${what}: allowed` });
    } catch (err) {
      if (err instanceof CloudError && err.code === 'M365_PERMISSION_MISSING') {
        checks.push({ permission, ok: false, message: `${what} was refused: grant the application permission ${permission} and give admin consent` });
      } else if (err instanceof CloudError && err.code === 'M365_NOT_FOUND') {
        checks.push({ permission, ok: true, message: `${what}: allowed (nothing found)` });
      } else throw err;
    }
  };
  await probe('User.Read.All', 'list the users', '/users?$top=1&$select=id', (b) => (firstUserId = b.value?.[0]?.id ?? null));
  await probe('Sites.Read.All', 'list the SharePoint sites', '/sites/getAllSites?$top=1&$select=id');
  if (firstUserId !== null) await probe('Files.Read.All', "read a user's OneDrive", `/users/${encodeURIComponent(firstUserId)}/drive/root?$select=id`);
  const missing = checks.filter((c) => !c.ok);
  const message = missing.length
    ? `Signed in, but ${missing.map((c) => c.permission).join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing: add ${missing.length === 1 ? 'it' : 'them'} under API permissions (Application) and grant admin consent`
    : 'Signed in; the app may read users, sites and files';
  return { ok: missing.length === 0, roles, checks, message };
}
