import { Alert } from '@mantine/core';
import { IconAlertCircle, IconCircleCheck } from '@tabler/icons-react';
import { errorMessage } from '../../api/api-error.js';

interface TestResultProps {
  /** What the far end answered, once it accepted. */
  response: string | undefined;
  error: unknown;
  testId: string;
}

/** The outcome of a "Send test" button, right under it: the server's reply, or its refusal verbatim. */
export function NotificationsTestResult({ response, error, testId }: TestResultProps) {
  if (error !== null && error !== undefined) {
    return (
      <Alert color="red" icon={<IconAlertCircle />} title="Not sent" role="alert" data-testid={testId}>
        {errorMessage(error)}
      </Alert>
    );
  }
  if (response === undefined) return null;
  return (
    <Alert color="green" icon={<IconCircleCheck />} title="Sent" role="status" data-testid={testId}>
      The server answered: {response}
    </Alert>
  );
}
