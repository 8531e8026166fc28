import { ActionIcon, Code, CopyButton, Group, Tooltip } from '@mantine/core';
import { IconCheck, IconCopy } from '@tabler/icons-react';

interface CopyableCodeProps {
  value: string;
  /** Accessible name of the copy button, e.g. "Copy command". */
  copyLabel: string;
  block?: boolean;
  testId?: string;
}

/** A value people paste elsewhere (a command, a fingerprint), with a copy button beside it. */
export function CopyableCode({ value, copyLabel, block = false, testId }: CopyableCodeProps) {
  return (
    <Group gap="xs" wrap="nowrap" align="flex-start">
      <Code block={block} data-testid={testId} style={{ overflowWrap: 'anywhere', whiteSpace: 'pre-wrap', flex: 1 }}>
        {value}
      </Code>
      <CopyButton value={value}>
        {({ copied, copy }) => (
          <Tooltip label={copied ? 'Copied' : copyLabel}>
            <ActionIcon variant="subtle" color={copied ? 'teal' : 'gray'} onClick={copy} aria-label={copyLabel}>
              {copied ? <IconCheck size={16} /> : <IconCopy size={16} />}
            </ActionIcon>
          </Tooltip>
        )}
      </CopyButton>
    </Group>
  );
}
