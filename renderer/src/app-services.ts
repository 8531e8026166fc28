import { notifications } from '@mantine/notifications';
import { MutationCache, QueryClient } from '@tanstack/react-query';
import { ApiClient } from './api/api-client.js';
import { errorMessage, isApiError, isRetryable } from './api/api-error.js';
import { endSession } from './api/auth.queries.js';
import { queryKeys } from './api/query-keys.js';

declare module '@tanstack/react-query' {
  interface Register {
    mutationMeta: {
      /** The form shows the error itself, so no toast. */
      inlineErrors?: boolean;
      /** Toast title when the mutation fails. */
      errorTitle?: string;
    };
  }
}

export interface AppServices {
  queryClient: QueryClient;
  apiClient: ApiClient;
}

/** The UI's composition root: one query cache and one API client per mounted app. */
export function createAppServices(fetchFn?: typeof fetch): AppServices {
  const queryClient = new QueryClient({
    mutationCache: new MutationCache({
      onError: (error, _variables, _onMutateResult, mutation) => {
        // 401s already send the user to sign-in; a toast on top would be noise.
        if (mutation.meta?.inlineErrors === true || isApiError(error, 401)) return;
        notifications.show({
          color: 'red',
          title: mutation.meta?.errorTitle ?? 'The change was not saved',
          message: errorMessage(error),
        });
      },
    }),
    defaultOptions: {
      queries: {
        retry: (failureCount, error) => isRetryable(error) && failureCount < 2,
      },
    },
  });

  const onUnauthorized = (): void => {
    const wasSignedIn = queryClient.getQueryData(queryKeys.me) != null;
    endSession(queryClient, 'expired');
    if (wasSignedIn) {
      notifications.show({ id: 'session-ended', color: 'yellow', title: 'Signed out', message: 'Your session has ended. Sign in again to continue.' });
    }
  };

  const apiClient = new ApiClient(fetchFn === undefined ? { onUnauthorized } : { onUnauthorized, fetchFn });
  return { queryClient, apiClient };
}
