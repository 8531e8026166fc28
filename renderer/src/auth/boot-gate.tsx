import { Navigate, Outlet, useLocation } from 'react-router-dom';
import { errorMessage } from '../api/api-error.js';
import { useHealthQuery } from '../api/health.queries.js';
import { FullPageError, FullPageLoader } from '../components/full-page-message.js';

/**
 * First gate on every route: until the first administrator exists, the only page is /setup;
 * afterwards /setup is gone for good.
 */
export function BootGate() {
  const health = useHealthQuery();
  const { pathname } = useLocation();

  // Only a first load can fail the whole app; a failed background refetch (server restarting)
  // keeps the last good answer on screen.
  if (health.data === undefined) {
    if (!health.isError) return <FullPageLoader label="Connecting to the vPlus server" />;
    return (
      <FullPageError
        title="The vPlus server is not answering"
        message={errorMessage(health.error)}
        onRetry={() => void health.refetch()}
      />
    );
  }
  const onSetup = pathname === '/setup';
  if (health.data.setupRequired && !onSetup) return <Navigate to="/setup" replace />;
  if (!health.data.setupRequired && onSetup) return <Navigate to="/" replace />;
  return <Outlet />;
}
