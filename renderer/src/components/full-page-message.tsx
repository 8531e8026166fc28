import { Alert, Button, Center, Loader, Stack } from '@mantine/core';
import { IconAlertCircle, IconRefresh } from '@tabler/icons-react';

export function FullPageLoader({ label }: { label: string }) {
  return (
    <Center h="100vh">
      <Loader aria-label={label} />
    </Center>
  );
}

/** For failures before the shell exists, e.g. the server not answering at start-up. */
export function FullPageError({ title, message, onRetry }: { title: string; message: string; onRetry: () => void }) {
  return (
    <Center h="100vh" p="md">
      <Stack maw={480}>
        <Alert color="red" title={title} icon={<IconAlertCircle />}>
          {message}
        </Alert>
        <Button leftSection={<IconRefresh size={16} />} variant="default" onClick={onRetry}>
          Try again
        </Button>
      </Stack>
    </Center>
  );
}
