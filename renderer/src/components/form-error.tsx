import { Alert } from '@mantine/core';
import { IconAlertCircle } from '@tabler/icons-react';
import { errorMessage } from '../api/api-error.js';

/** A form's server-side failure, announced to screen readers as it appears. */
export function FormError({ error }: { error: unknown }) {
  if (error === null || error === undefined) return null;
  return (
    <Alert color="red" icon={<IconAlertCircle />} role="alert" data-testid="form-error">
      {errorMessage(error)}
    </Alert>
  );
}
