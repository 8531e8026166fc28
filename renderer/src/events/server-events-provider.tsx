import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type ReactNode } from 'react';
import { applyServerEvent } from './apply-server-event.js';
import { ConnectionStateContext } from './connection-state-context.js';
import { eventsUrl, ServerEventsConnection, type ConnectionState } from './server-events-connection.js';

/** Holds the session's single /api/events socket for as long as the user is signed in. */
export function ServerEventsProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [state, setState] = useState<ConnectionState>('connecting');

  useEffect(() => {
    const connection = new ServerEventsConnection({
      url: eventsUrl(window.location),
      onEvent: (event) => applyServerEvent(queryClient, event),
      onStateChange: setState,
      onReconnected: () => void queryClient.invalidateQueries(),
    });
    connection.start();
    return () => connection.stop();
  }, [queryClient]);

  return <ConnectionStateContext value={state}>{children}</ConnectionStateContext>;
}
