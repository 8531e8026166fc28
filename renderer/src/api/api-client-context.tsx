import { createContext, useContext, type ReactNode } from 'react';
import type { ApiClient } from './api-client.js';

// Provided from the composition root (app.tsx) instead of a module singleton, so tests can
// hand the UI a client with a fake fetch.
const ApiClientContext = createContext<ApiClient | null>(null);

export function ApiClientProvider({ client, children }: { client: ApiClient; children: ReactNode }) {
  return <ApiClientContext value={client}>{children}</ApiClientContext>;
}

export function useApiClient(): ApiClient {
  const client = useContext(ApiClientContext);
  if (client === null) throw new Error('useApiClient must be used inside <ApiClientProvider>');
  return client;
}
