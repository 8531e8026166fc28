import { Alert, Button } from '@mantine/core';
import { IconAlertCircle } from '@tabler/icons-react';
import { errorMessage } from '../api/api-error.js';

interface QueryErrorAlertProps {
  title: string;
  error: unknown;
  onRetry?: () => void;
}

/** A failed load shown where its data would have been, with the server's own message. */
export function QueryErrorAlert({ title, error, onRetry }: QueryErrorAlertProps) {
  return (
    <Alert color="red" title={title} icon={<IconAlertCircle />} role="alert">
      {errorMessage(error)}
      {onRetry !== undefined && (
        <Button display="block" mt="sm" size="xs" variant="default" onClick={onRetry}>
          Try again
        </Button>
      )}
    </Alert>
  );
}
