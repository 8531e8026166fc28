import { MantineProvider } from '@mantine/core';
import { Notifications } from '@mantine/notifications';
import { QueryClientProvider } from '@tanstack/react-query';
import { useState } from 'react';
import { BrowserRouter } from 'react-router-dom';
import { ApiClientProvider } from './api/api-client-context.js';
import { AppRoutes } from './app-routes.js';
import { createAppServices, type AppServices } from './app-services.js';
import { theme } from './theme.js';

export function App({ services }: { services?: AppServices }) {
  // useState, not a module constant: each mounted app (and each test) gets its own cache.
  const [{ queryClient, apiClient }] = useState(() => services ?? createAppServices());
  return (
    <MantineProvider theme={theme} defaultColorScheme="auto">
      {/* Bottom-right: toasts must never cover the header's "Sign out" and live indicator. */}
      <Notifications position="bottom-right" autoClose={5000} limit={4} />
      <QueryClientProvider client={queryClient}>
        <ApiClientProvider client={apiClient}>
          <BrowserRouter>
            <AppRoutes />
          </BrowserRouter>
        </ApiClientProvider>
      </QueryClientProvider>
    </MantineProvider>
  );
}
