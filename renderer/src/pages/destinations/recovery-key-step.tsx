import { Alert, Button, Checkbox, Code, CopyButton, Group, Stack, Text } from '@mantine/core';
import { IconAlertTriangle, IconCheck, IconCopy, IconDownload } from '@tabler/icons-react';
import { useState } from 'react';
import { DialogActions } from '../../components/dialog-actions.js';

/** A file name for the key: the destination's name, safe on every system. */
const fileName = (destination: string): string => `vplus-recovery-key-${destination.replace(/[^A-Za-z0-9._-]+/g, '_')}.txt`;

function download(destination: string, key: string): void {
  const text = [
    `vPlus recovery key for destination "${destination}".`,
    'It opens this destination\'s encrypted backups without the password. Keep it offline (printed, or on a USB stick in a safe);',
    'anyone who has it can read the backups.',
    '',
    key,
  ].join('\n');
  const url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName(destination);
  link.click();
  URL.revokeObjectURL(url);
}

/**
 * Shown once, right after an encrypted destination is added: its recovery key, to download or
 * copy. The server keeps no copy, so closing this is the last chance to take it.
 */
export function RecoveryKeyStep({ destination, recoveryKey, onDone }: { destination: string; recoveryKey: string; onDone: () => void }) {
  const [kept, setKept] = useState(false);
  return (
    <Stack>
      <Text size="sm">
        Destination <b>{destination}</b> is added and its backups are encrypted.
      </Text>
      <Alert color="yellow" icon={<IconAlertTriangle />} title="Download the recovery key now: it is shown only this once">
        If the password is lost, this key is the only way to read the backups on this destination; without both, they are lost. Keep it offline,
        away from this server (printed, or on a USB stick in a safe): anyone who has it can read the backups.
      </Alert>
      <Code block data-testid="recovery-key" style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>
        {recoveryKey}
      </Code>
      <Group>
        <Button
          leftSection={<IconDownload size={16} aria-hidden />}
          onClick={() => {
            download(destination, recoveryKey);
            setKept(true);
          }}
        >
          Download recovery key
        </Button>
        <CopyButton value={recoveryKey}>
          {({ copied, copy }) => (
            <Button variant="default" leftSection={copied ? <IconCheck size={16} aria-hidden /> : <IconCopy size={16} aria-hidden />} onClick={copy}>
              {copied ? 'Copied' : 'Copy'}
            </Button>
          )}
        </CopyButton>
      </Group>
      <Checkbox label="I have stored the recovery key somewhere safe" checked={kept} onChange={(event) => setKept(event.currentTarget.checked)} />
      <DialogActions>
        <Button onClick={onDone} disabled={!kept}>
          Done
        </Button>
      </DialogActions>
    </Stack>
  );
}
