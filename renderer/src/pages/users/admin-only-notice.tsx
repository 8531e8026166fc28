import { Alert } from '@mantine/core';
import { IconLock } from '@tabler/icons-react';

/** Operators and viewers get an explanation instead of a list the server would refuse (403). */
export function AdminOnlyNotice() {
  return (
    <Alert color="gray" icon={<IconLock />} title="Only administrators can see and manage users">
      Ask an administrator if you need an account for someone else or a different role for yourself.
    </Alert>
  );
}
