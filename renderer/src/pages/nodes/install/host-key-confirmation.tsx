import { Alert, Checkbox, Code, Stack, Text } from '@mantine/core';
import { IconKey } from '@tabler/icons-react';
import { CopyableCode } from '../../../components/copyable-code.js';
import { hostKeyFile } from './install-request.js';

interface HostKeyConfirmationProps {
  host: string;
  keyType: string;
  fingerprint: string;
  trusted: boolean;
  onTrustedChange: (trusted: boolean) => void;
}

/**
 * Trust on first use, done properly: the admin compares the fingerprint the server saw with the
 * one the host itself prints, before any password or file is sent.
 */
export function HostKeyConfirmation({ host, keyType, fingerprint, trusted, onTrustedChange }: HostKeyConfirmationProps) {
  const command = `ssh-keygen -lf ${hostKeyFile(keyType)}`;
  return (
    <Alert color={trusted ? 'green' : 'yellow'} icon={<IconKey />} title={`Host key of ${host}`} data-testid="host-key">
      <Stack gap="xs">
        <Text size="sm">
          Key type <Code>{keyType}</Code>, SHA-256 fingerprint:
        </Text>
        <CopyableCode value={fingerprint} copyLabel="Copy host key fingerprint" testId="host-key-fingerprint" />
        <Text size="sm">
          Compare it with what <Code>{command}</Code> prints on the host itself, for example at its console. Go on only if
          they are the same: a different fingerprint means you may not be talking to the host you think.
        </Text>
        <Checkbox
          label="I trust this host key"
          description="Nothing is sent to the host until you do."
          checked={trusted}
          onChange={(event) => onTrustedChange(event.currentTarget.checked)}
        />
      </Stack>
    </Alert>
  );
}
