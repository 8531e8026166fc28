import type { Role, User } from '@common/api/index.js';
import { createContext, useContext, type ReactNode } from 'react';

export interface Session {
  user: User;
  isAdmin: boolean;
  /** Viewers read, never change; pages hide change controls rather than let the server refuse. */
  canChange: boolean;
}

const SessionContext = createContext<Session | null>(null);

const CHANGING_ROLES: readonly Role[] = ['admin', 'operator'];

export function SessionProvider({ user, children }: { user: User; children: ReactNode }) {
  const session: Session = { user, isAdmin: user.role === 'admin', canChange: CHANGING_ROLES.includes(user.role) };
  return <SessionContext value={session}>{children}</SessionContext>;
}

/** Only valid below <RequireSession>, where a signed-in user is guaranteed. */
export function useSession(): Session {
  const session = useContext(SessionContext);
  if (session === null) throw new Error('useSession must be used below <RequireSession>');
  return session;
}
