import { Navigate, useLocation } from 'react-router-dom';
import { useMeQuery, useSessionEnd } from '../api/auth.queries.js';
import { errorMessage } from '../api/api-error.js';
import { FullPageError, FullPageLoader } from '../components/full-page-message.js';
import { ServerEventsProvider } from '../events/server-events-provider.js';
import { AppLayout } from '../layout/app-layout.js';
import type { ReturnState } from './return-path.js';
import { SessionProvider } from './session-context.js';

/**
 * Guards the signed-in part of the app. A 401 anywhere sets the cached user to null
 * (see app-services.ts), which re-renders this into a redirect to /signin.
 */
export function RequireSession() {
  const me = useMeQuery();
  const sessionEnd = useSessionEnd();
  const location = useLocation();

  // As in BootGate: a failed background refetch keeps the signed-in user on screen.
  if (me.data === undefined) {
    if (!me.isError) return <FullPageLoader label="Checking your session" />;
    return <FullPageError title="Could not check your session" message={errorMessage(me.error)} onRetry={() => void me.refetch()} />;
  }
  if (me.data === null) {
    // After a deliberate sign-out the next user starts on the dashboard.
    const state: ReturnState | null = sessionEnd === 'signed-out' ? null : { from: `${location.pathname}${location.search}` };
    return <Navigate to="/signin" replace state={state} />;
  }
  return (
    <SessionProvider user={me.data}>
      {/* Keyed by user: a different sign-in gets a fresh socket authenticated by the new cookie. */}
      <ServerEventsProvider key={me.data.username}>
        <AppLayout />
      </ServerEventsProvider>
    </SessionProvider>
  );
}
