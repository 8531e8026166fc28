import { Alert, Code, Collapse, Stack, Text, UnstyledButton } from '@mantine/core';
import { IconAlertCircle, IconChevronRight } from '@tabler/icons-react';
import { useId, useState } from 'react';
import { errorMessage, fieldErrorMessage, isApiError } from '../api/api-error.js';

/** A tool's raw output (virsh, …), folded away behind "Details" so the plain sentence leads. */
export function ErrorDetails({ detail }: { detail: string }) {
  const [open, setOpen] = useState(false);
  const id = useId();
  return (
    <Stack gap={4}>
      <UnstyledButton aria-expanded={open} aria-controls={id} onClick={() => setOpen((was) => !was)}>
        <Text size="xs" c="dimmed" span style={{ display: 'inline-flex', alignItems: 'center', gap: 2 }}>
          <IconChevronRight size={14} aria-hidden style={{ transform: open ? 'rotate(90deg)' : undefined, transition: 'transform 120ms' }} />
          Details
        </Text>
      </UnstyledButton>
      <Collapse expanded={open} id={id}>
        <Code block style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-word' }} data-testid="error-details">
          {detail}
        </Code>
      </Collapse>
    </Stack>
  );
}

/** A form's (or a dialog's) server-side failure, announced to screen readers as it appears. */
export function FormError({ error }: { error: unknown }) {
  if (error === null || error === undefined) return null;
  const detail = isApiError(error) ? error.detail : undefined;
  // The same plain words as under a field: a sentence, and no zod text.
  const message = isApiError(error) ? fieldErrorMessage(error, error.field ?? '') : errorMessage(error);
  return (
    <Alert color="red" icon={<IconAlertCircle />} role="alert" data-testid="form-error">
      <Stack gap="xs">
        <Text size="sm">{message}</Text>
        {detail !== undefined && detail !== '' && <ErrorDetails detail={detail} />}
      </Stack>
    </Alert>
  );
}
