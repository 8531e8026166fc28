import type { PolicyKind, PolicyPreview } from '@common/api/index.js';
import { Alert, Badge, Code, Group, Loader, Paper, ScrollArea, Table, Text, Title } from '@mantine/core';
import { IconAlertCircle, IconCheck, IconInfoCircle, IconX } from '@tabler/icons-react';
import type { ReactNode } from 'react';
import { errorMessage } from '../../api/api-error.js';
import type { PolicyPreviewAnswer } from '../../api/policies.queries.js';
import { BackupTypeBadge } from '../../components/backup-type-badge.js';
import { RelativeTime } from '../../components/relative-time.js';
import { formatDateTime } from '../../utils/format.js';
import { browserTimeZone, formatRunTime } from '../../utils/policy-format.js';
import { NO_SHRINK } from '../../utils/styles.js';

interface PreviewCardProps {
  id: string;
  title: string;
  /** e.g. "3 of 8 match", right of the title. */
  summary?: ReactNode;
  loading: boolean;
  children: ReactNode;
}

function PreviewCard({ id, title, summary, loading, children }: PreviewCardProps) {
  return (
    <Paper withBorder radius="md" p="md" component="section" aria-labelledby={id} aria-busy={loading}>
      <Group justify="space-between" mb="sm" wrap="nowrap">
        <Group gap="xs" wrap="nowrap">
          <Title order={2} size="h5" id={id}>
            {title}
          </Title>
          {loading && <Loader size={14} aria-label={`Updating ${title.toLowerCase()}`} />}
        </Group>
        {summary !== undefined && (
          <Text size="sm" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
            {summary}
          </Text>
        )}
      </Group>
      {children}
    </Paper>
  );
}

function Note({ children }: { children: ReactNode }) {
  return (
    <Alert color="gray" variant="light" icon={<IconInfoCircle />}>
      {children}
    </Alert>
  );
}

/** A preview's rows under its column headings, scrolling inside the card whose title names it. */
function PreviewTable({ labelledBy, columns, children }: { labelledBy: string; columns: readonly string[]; children: ReactNode }) {
  return (
    <ScrollArea.Autosize mah={420} type="auto">
      <Table verticalSpacing={6} aria-labelledby={labelledBy}>
        <Table.Thead>
          <Table.Tr>
            {columns.map((heading) => (
              <Table.Th key={heading} scope="col">
                {heading}
              </Table.Th>
            ))}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>{children}</Table.Tbody>
      </Table>
    </ScrollArea.Autosize>
  );
}

interface PreviewProps {
  answer: PolicyPreviewAnswer | undefined;
  loading: boolean;
}

/**
 * When the policy as typed would run: the browser's clock, with the rule that fires and, for a
 * backup policy, the type of backup (a snapshot policy's runs are all alike).
 */
export function NextRunsPreview({ answer, loading, policyTimeZone, kind }: PreviewProps & { policyTimeZone: string | null; kind: PolicyKind }) {
  const withType = kind === 'backup';
  const preview = answer?.preview;
  const rules = answer?.request.schedules?.length ?? 0;
  const localZone = browserTimeZone();
  let body: ReactNode;
  if (preview === undefined) body = <Text size="sm" c="dimmed">Working out the next runs…</Text>;
  else if (rules === 0) body = <Note>Type a schedule rule to see when the policy runs. Without one it runs only when started by hand.</Note>;
  else if (preview.nextRuns.length === 0) {
    body = <Note>{preview.scheduleErrors.length > 0 ? 'Fix the rules marked in red to see when the policy runs.' : 'These rules never fire.'}</Note>;
  } else {
    body = (
      <>
        <Table.ScrollContainer minWidth={300}>
          <Table verticalSpacing={6} aria-labelledby="preview-next-runs" data-testid="next-runs-preview">
            <Table.Thead>
              <Table.Tr>
                <Table.Th scope="col">When</Table.Th>
                {withType && <Table.Th scope="col">Type</Table.Th>}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {preview.nextRuns.map((run) => (
                <Table.Tr key={`${run.at}-${run.rule}`}>
                  <Table.Td>
                    <Text size="sm" component="time" dateTime={run.at} display="block" style={{ whiteSpace: 'nowrap' }}>
                      {formatRunTime(run.at)}
                    </Text>
                    <Code fz="xs" c="dimmed" style={{ overflowWrap: 'anywhere' }}>
                      {run.rule}
                    </Code>
                  </Table.Td>
                  {withType && (
                    <Table.Td>
                      {run.backupType !== null && <BackupTypeBadge type={run.backupType} />}
                    </Table.Td>
                  )}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
        <Text size="xs" c="dimmed" mt="xs">
          {policyTimeZone === null || policyTimeZone === localZone
            ? `Times on your clock (${localZone}).`
            : `Times on your clock (${localZone}); the policy reads its rules in ${policyTimeZone}.`}
        </Text>
      </>
    );
  }
  return (
    <PreviewCard id="preview-next-runs" title="Next 10 runs" loading={loading}>
      {body}
    </PreviewCard>
  );
}

/** Which VMs the rules take in now, and why each is in or out. */
export function MatchingVmsPreview({ answer, loading }: PreviewProps) {
  const rows = answer === undefined ? undefined : [...answer.preview.assignment].sort((a, b) => Number(b.matches) - Number(a.matches) || a.vm.localeCompare(b.vm));
  const matching = rows?.filter((row) => row.matches).length ?? 0;
  let body: ReactNode;
  if (rows === undefined) body = <Text size="sm" c="dimmed">Matching the inventory…</Text>;
  else if (rows.length === 0) body = <Note>No virtual machine in the inventory yet. VMs appear once a hypervisor is added under Virtual machines.</Note>;
  else {
    body = (
      <PreviewTable labelledBy="preview-matching-vms" columns={['VM', 'Host', 'Match', 'Policy now']}>
        {rows.map((row) => (
          <Table.Tr key={`${row.hypervisor}/${row.vm}`} data-matches={row.matches}>
            <Table.Td>
              <Text size="sm" fw={500} style={{ overflowWrap: 'anywhere' }}>
                {row.vm}
              </Text>
            </Table.Td>
            <Table.Td>
              <Text size="sm">{row.hypervisor}</Text>
            </Table.Td>
            <Table.Td>
              <Group gap={4} wrap="nowrap" align="flex-start">
                {row.matches ? (
                  <IconCheck size={16} color="var(--mantine-color-teal-6)" role="img" aria-label="Matches" style={NO_SHRINK} />
                ) : (
                  <IconX size={16} color="var(--mantine-color-dimmed)" role="img" aria-label="Does not match" style={NO_SHRINK} />
                )}
                <Text size="xs" c="dimmed">
                  {row.reason}
                </Text>
              </Group>
            </Table.Td>
            <Table.Td>
              <Text size="sm" c={row.currentPolicy === null ? 'dimmed' : undefined}>
                {row.currentPolicy ?? 'None'}
              </Text>
            </Table.Td>
          </Table.Tr>
        ))}
      </PreviewTable>
    );
  }
  return (
    <PreviewCard
      id="preview-matching-vms"
      title="Matching VMs"
      loading={loading}
      summary={rows === undefined || rows.length === 0 ? undefined : `${matching} of ${rows.length} match`}
    >
      {body}
    </PreviewCard>
  );
}

type RetentionRow = PolicyPreview['retention'][number];

/** Which of the covered VMs' backups on the destination the retention rules would keep, and why. */
export function RetentionPreview({ answer, loading, destination }: PreviewProps & { destination: string | null }) {
  const rows: RetentionRow[] | undefined = answer?.preview.retention;
  const kept = rows?.filter((row) => row.keep).length ?? 0;
  let body: ReactNode;
  if (answer === undefined || rows === undefined) body = <Text size="sm" c="dimmed">Applying the rules to the backups…</Text>;
  else if (answer.request.retention === undefined) body = <Note>No retention rules: every backup is kept until it is removed by hand.</Note>;
  else if (answer.request.destination === undefined) body = <Note>Choose a destination to see which of its backups the rules keep.</Note>;
  else if (rows.length === 0) {
    body = <Note>{`No backup of these VMs on ${destination ?? 'the destination'} yet: nothing to keep or remove.`}</Note>;
  } else {
    body = (
      <PreviewTable labelledBy="preview-retention" columns={['VM', 'Backup', 'Outcome', 'Why']}>
        {rows.map((row) => (
          <Table.Tr key={row.backupId} data-keep={row.keep}>
            <Table.Td>
              <Text size="sm">{row.vm}</Text>
            </Table.Td>
            <Table.Td>
              <RelativeTime iso={row.createdAt} />
            </Table.Td>
            <Table.Td>
              <Badge component="span" size="sm" variant="light" color={row.keep ? 'teal' : 'red'} style={NO_SHRINK}>
                {row.keep ? 'Kept' : 'Removed'}
              </Badge>
            </Table.Td>
            <Table.Td>
              <Text size="xs" c="dimmed" title={formatDateTime(row.createdAt)}>
                {row.reasons.join('; ')}
              </Text>
            </Table.Td>
          </Table.Tr>
        ))}
      </PreviewTable>
    );
  }
  return (
    <PreviewCard
      id="preview-retention"
      title="Retention preview"
      loading={loading}
      summary={rows === undefined || rows.length === 0 ? undefined : `${kept} kept, ${rows.length - kept} removed`}
    >
      {body}
    </PreviewCard>
  );
}

/** The preview itself failed (a time zone the server does not know, the server unreachable). */
export function PreviewError({ error }: { error: unknown }) {
  return (
    <Alert color="red" icon={<IconAlertCircle />} title="The preview is out of date" role="alert">
      {errorMessage(error)}
    </Alert>
  );
}
