import { createContext, useContext } from 'react';
import type { ConnectionState } from './server-events-connection.js';

export const ConnectionStateContext = createContext<ConnectionState>('connecting');

/** State of the live-events socket, for the header indicator. */
export function useConnectionState(): ConnectionState {
  return useContext(ConnectionStateContext);
}
