import { Alert, Button, Stack, Text, TextInput } from '@mantine/core';
import { IconTicket } from '@tabler/icons-react';
import { useState } from 'react';
import { useCreateEnrollmentTokenMutation } from '../../../api/nodes.queries.js';
import { CopyableCode } from '../../../components/copyable-code.js';
import { FormError } from '../../../components/form-error.js';
import { RelativeTime } from '../../../components/relative-time.js';

/** The exact command a node's host runs to enroll with a one-time token (see docs CLI.md). */
export function enrollCommand(serverUrl: string, token: string, fingerprint: string): string {
  return `vplus node-service enroll --server ${serverUrl.trim()} --token ${token} --fingerprint ${fingerprint}`;
}

/** For hosts the server cannot reach over SSH: a one-time token and the command to run there. */
export function ManualEnrollment() {
  const create = useCreateEnrollmentTokenMutation();
  // The browser's address is a good guess, but "localhost" means nothing on another host.
  const [serverUrl, setServerUrl] = useState(() => window.location.origin);
  const onlyLocal = /^https?:\/\/(localhost|127\.|\[::1\])/.test(serverUrl);

  return (
    <Stack maw={760}>
      <Text size="sm">
        On a host where the vPlus node service is installed, run the command below. The token works once and expires soon; the
        fingerprint lets the node check that it talks to this server.
      </Text>
      <TextInput
        label="Server address for the node"
        description="The URL the node's host uses to reach this server"
        value={serverUrl}
        onChange={(event) => setServerUrl(event.currentTarget.value)}
        w="100%"
      />
      {onlyLocal && (
        <Text size="sm" c="yellow.8">
          This address only works for a node on this computer. For another host, use a name or IP address it can reach.
        </Text>
      )}
      <FormError error={create.error} />
      <Button
        leftSection={<IconTicket size={16} aria-hidden />}
        loading={create.isPending}
        onClick={() => create.mutate()}
        w="fit-content"
        variant={create.data === undefined ? 'filled' : 'default'}
      >
        {create.data === undefined ? 'Create enrollment token' : 'Create another token'}
      </Button>
      {create.data !== undefined && (
        <Alert color="blue" variant="light" title="Run this on the node's host" data-testid="enroll-command">
          <Stack gap="xs">
            <CopyableCode value={enrollCommand(serverUrl, create.data.token, create.data.fingerprint)} copyLabel="Copy command" block testId="enroll-command-text" />
            <Text size="sm">
              Single use; expires <RelativeTime iso={create.data.expiresAt} />. The node appears in the list once it has enrolled.
            </Text>
          </Stack>
        </Alert>
      )}
    </Stack>
  );
}
