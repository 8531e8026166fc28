import type { MailMessageDetail } from '@common/api/m365-mail.js';
import { Alert, Anchor, Badge, Box, Button, CloseButton, Group, Paper, ScrollArea, Skeleton, Stack, Table, Text, Title } from '@mantine/core';
import { IconDownload, IconPaperclip, IconPhotoOff } from '@tabler/icons-react';
import { useMailMessageQuery } from '../../api/exchange.queries.js';
import { useSession } from '../../auth/session-context.js';
import { exportUrl, formatAddress, formatAddresses, mailAttachmentUrl, mailPreviewUrl } from '../../utils/exchange-format.js';
import { formatBytes, formatDateTime } from '../../utils/format.js';
import { BrowseErrorAlert } from '../mounts/browse-error.js';

/**
 * One message: its headers, its attachments (downloads), and its body. An HTML body is shown
 * by the server's sanitised preview in a frame sandboxed with no permission at all (no script,
 * not even same-origin, so nothing in it can reach this page or the session), which the
 * server's strict CSP backs: nothing remote is loaded. A text-only body is shown as text.
 */
export function MailPreview({ mountId, path, onClose }: { mountId: number; path: string; onClose: () => void }) {
  const message = useMailMessageQuery(mountId, path);
  return (
    <Paper withBorder radius="md" p="md" component="section" aria-label="Message" data-testid="mail-preview">
      <Group justify="flex-end" mb={-8}>
        <CloseButton aria-label="Close the message" onClick={onClose} />
      </Group>
      {message.isError && <BrowseErrorAlert error={message.error} />}
      {message.isPending && <Skeleton h={240} radius="md" aria-label="Loading the message" />}
      {message.data !== undefined && <MessageView mountId={mountId} message={message.data} />}
    </Paper>
  );
}

function Header({ label, value }: { label: string; value: string }) {
  if (value === '') return null;
  return (
    <Table.Tr>
      <Table.Th scope="row" w={80} style={{ verticalAlign: 'top' }}>
        <Text size="sm" c="dimmed">
          {label}
        </Text>
      </Table.Th>
      <Table.Td>
        <Text size="sm" style={{ overflowWrap: 'anywhere' }} data-testid={`mail-header-${label.toLowerCase()}`}>
          {value}
        </Text>
      </Table.Td>
    </Table.Tr>
  );
}

function MessageView({ mountId, message }: { mountId: number; message: MailMessageDetail }) {
  const { canChange } = useSession();
  const attachments = message.attachments.filter((attachment) => !attachment.inline);
  return (
    <Stack gap="sm">
      <Title order={3} size="h4" style={{ overflowWrap: 'anywhere' }}>
        {message.subject || '(no subject)'}
      </Title>
      <Table withRowBorders={false} verticalSpacing={2} aria-label="Message headers">
        <Table.Tbody>
          <Header label="From" value={formatAddress(message.from)} />
          <Header label="To" value={formatAddresses(message.to)} />
          <Header label="Cc" value={formatAddresses(message.cc)} />
          <Header label="Bcc" value={formatAddresses(message.bcc)} />
          <Header label="Date" value={formatDateTime(message.receivedAt ?? message.sentAt, '')} />
        </Table.Tbody>
      </Table>
      {attachments.length > 0 && (
        <Group gap="xs" wrap="wrap" aria-label="Attachments" role="list">
          {attachments.map((attachment) => (
            <Badge
              key={attachment.index}
              role="listitem"
              variant="light"
              color="gray"
              size="lg"
              tt="none"
              leftSection={<IconPaperclip size={14} aria-hidden />}
              rightSection={
                canChange ? (
                  <Anchor href={mailAttachmentUrl(mountId, message.path, attachment.index)} download={attachment.name} aria-label={`Download ${attachment.name}`} display="flex">
                    <IconDownload size={14} aria-hidden />
                  </Anchor>
                ) : undefined
              }
            >
              {`${attachment.name} (${formatBytes(attachment.size)})`}
            </Badge>
          ))}
        </Group>
      )}
      <Group gap="xs" justify="space-between">
        {message.remoteContentBlocked > 0 ? (
          <Alert color="gray" variant="light" icon={<IconPhotoOff size={16} />} p={6} data-testid="remote-blocked">
            <Text size="xs">{`${message.remoteContentBlocked} remote ${message.remoteContentBlocked === 1 ? 'image' : 'images'} blocked: a preview never loads anything from outside the backup.`}</Text>
          </Alert>
        ) : (
          <span />
        )}
        {canChange && (
          <Button component="a" href={exportUrl(mountId, 'eml', [message.path])} download size="xs" variant="default" leftSection={<IconDownload size={14} aria-hidden />}>
            Download .eml
          </Button>
        )}
      </Group>
      {message.hasHtml ? (
        <Box style={{ border: '1px solid var(--mantine-color-default-border)', borderRadius: 4, background: 'white' }}>
          <iframe
            // No permission at all: no scripts, no same-origin, no forms, no popups, no top navigation.
            sandbox=""
            referrerPolicy="no-referrer"
            src={mailPreviewUrl(mountId, message.path)}
            title={`Body of ${message.subject || '(no subject)'}`}
            data-testid="mail-body-frame"
            style={{ width: '100%', height: 480, border: 0, display: 'block' }}
          />
        </Box>
      ) : (
        <ScrollArea.Autosize mah={480} type="auto">
          <Text component="pre" size="sm" ff="monospace" m={0} style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }} data-testid="mail-body-text">
            {message.text}
          </Text>
        </ScrollArea.Autosize>
      )}
    </Stack>
  );
}
