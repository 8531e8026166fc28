import {
  DestinationCheckResultSchema,
  GcResultSchema,
  PruneResultSchema,
  ReimportResultSchema,
  VerifyResultSchema,
  type Backup,
  type RepositoryStatsView,
} from '@common/api/index.js';
import { Alert, Badge, Code, Group, List, ScrollArea, Stack, Table, Text, Title } from '@mantine/core';
import { IconAlertTriangle, IconCircleCheck, IconInfoCircle } from '@tabler/icons-react';
import type { ReactNode } from 'react';
import type { z } from 'zod';
import { formatBytes, formatDateTime } from '../../utils/format.js';
import { formatRatio } from '../../utils/destination-format.js';

type VerifyResult = z.infer<typeof VerifyResultSchema>;
type PruneResult = z.infer<typeof PruneResultSchema>;

/** A result the contract does not describe (a newer node?) is still shown, as it came. */
function Unreadable({ result }: { result: unknown }) {
  return (
    <Alert color="gray" variant="light" icon={<IconInfoCircle />} title="Result">
      <Code block style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>
        {JSON.stringify(result, null, 2)}
      </Code>
    </Alert>
  );
}

function parsed<T>(schema: z.ZodType<T>, result: unknown, render: (value: T) => ReactNode): ReactNode {
  const outcome = schema.safeParse(result);
  return outcome.success ? render(outcome.data) : <Unreadable result={result} />;
}

/** The repository's numbers after the task, in one line. */
export function StatsLine({ stats }: { stats: RepositoryStatsView }) {
  return (
    <Text size="sm" c="dimmed" data-testid="stats-after">
      {`Now ${stats.backups} ${stats.backups === 1 ? 'backup' : 'backups'}, ${formatBytes(stats.storedBytes)} stored for ${formatBytes(stats.logicalBytes)} of data · dedup ${formatRatio(stats.dedupRatio)} · compression ${formatRatio(stats.compressionRatio)}`}
    </Text>
  );
}

/** A repository backup id with what the catalog knows about it (VM, time), when it knows it. */
function BackupName({ id, catalog }: { id: string; catalog: ReadonlyMap<string, Backup> }) {
  const known = catalog.get(id);
  return (
    <>
      <Code>{id}</Code>
      {known !== undefined && ` (${known.vm}, ${formatDateTime(known.createdAt)})`}
    </>
  );
}

export function VerifyResultView({ result, catalog, subset }: { result: unknown; catalog: ReadonlyMap<string, Backup>; subset?: string }) {
  return parsed(VerifyResultSchema, result, (verify: VerifyResult) => (
    <Stack gap="sm" data-testid="verify-result">
      {verify.problems.length === 0 ? (
        <Alert color="green" icon={<IconCircleCheck />} title="Every chunk checked is intact" role="status">
          {`${verify.checkedChunks} ${verify.checkedChunks === 1 ? 'chunk' : 'chunks'} (${formatBytes(verify.checkedBytes)}) read back, decrypted, decompressed and matched their hashes${subset === undefined ? '' : `; this was ${subset}`}.`}
        </Alert>
      ) : (
        <Alert
          color="red"
          icon={<IconAlertTriangle />}
          role="alert"
          title={`${verify.problems.length} damaged ${verify.problems.length === 1 ? 'chunk' : 'chunks'}; ${verify.affectedBackups.length} ${verify.affectedBackups.length === 1 ? 'backup is' : 'backups are'} affected`}
        >
          <Stack gap="xs">
            <Text size="sm">
              {`Checked ${verify.checkedChunks} chunks (${formatBytes(verify.checkedBytes)}). The backups below cannot be restored in full; other backups are not affected.`}
            </Text>
            <ScrollArea.Autosize mah={240} type="auto">
              <List size="sm" spacing="xs" aria-label="Damaged chunks" listStyleType="none" withPadding={false}>
                {verify.problems.map((problem) => (
                  <List.Item key={problem.chunk} data-testid="damaged-chunk">
                    <Stack gap={2}>
                      <Code c="red" fw={600} style={{ overflowWrap: 'anywhere' }}>
                        {problem.chunk}
                      </Code>
                      <Text size="sm" c="red" style={{ overflowWrap: 'anywhere' }}>
                        {problem.problem}
                      </Text>
                      <Text size="sm" c="red">
                        {problem.backups.length === 0 ? 'Used by no backup.' : `Used by ${problem.backups.join(', ')}`}
                      </Text>
                    </Stack>
                  </List.Item>
                ))}
              </List>
            </ScrollArea.Autosize>
            {verify.affectedBackups.length > 0 && (
              <>
                <Text size="sm" fw={600}>
                  Affected backups
                </Text>
                <List size="sm" spacing={2} aria-label="Affected backups" c="red">
                  {verify.affectedBackups.map((id) => (
                    <List.Item key={id}>
                      <BackupName id={id} catalog={catalog} />
                    </List.Item>
                  ))}
                </List>
              </>
            )}
          </Stack>
        </Alert>
      )}
      <StatsLine stats={verify.stats} />
    </Stack>
  ));
}

function PruneTable({ label, rows, withReasons }: { label: string; rows: PruneResult['kept'] | PruneResult['removed']; withReasons: boolean }) {
  if (rows.length === 0) {
    return (
      <Text size="sm" c="dimmed">
        None.
      </Text>
    );
  }
  return (
    <ScrollArea.Autosize mah={200} type="auto">
      <Table withRowBorders aria-label={label} fz="sm" verticalSpacing={4}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Created</Table.Th>
            <Table.Th>Of</Table.Th>
            <Table.Th>Backup</Table.Th>
            {withReasons && <Table.Th>Kept because</Table.Th>}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.map((row) => (
            <Table.Tr key={row.id}>
              <Table.Td style={{ whiteSpace: 'nowrap' }}>{formatDateTime(row.createdAt)}</Table.Td>
              <Table.Td style={{ overflowWrap: 'anywhere' }}>{row.group}</Table.Td>
              <Table.Td>
                <Code>{row.id}</Code>
              </Table.Td>
              {withReasons && (
                <Table.Td>
                  <Group gap={4}>
                    {'reasons' in row &&
                      row.reasons.map((reason) => (
                        <Badge key={reason} size="sm" variant="light" color="teal" tt="none">
                          {reason}
                        </Badge>
                      ))}
                  </Group>
                </Table.Td>
              )}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </ScrollArea.Autosize>
  );
}

export function PruneResultView({ result }: { result: unknown }) {
  return parsed(PruneResultSchema, result, (prune: PruneResult) => (
    <Stack gap="sm" data-testid={prune.dryRun ? 'prune-preview' : 'prune-result'}>
      <Alert
        color={prune.dryRun ? 'blue' : 'green'}
        variant="light"
        icon={prune.dryRun ? <IconInfoCircle /> : <IconCircleCheck />}
        role="status"
        title={
          prune.dryRun
            ? `Preview: ${prune.removed.length} ${prune.removed.length === 1 ? 'backup' : 'backups'} would be removed, ${prune.kept.length} kept`
            : `${prune.removed.length} ${prune.removed.length === 1 ? 'backup' : 'backups'} removed, ${prune.kept.length} kept`
        }
      >
        {prune.dryRun
          ? 'Nothing was removed yet.'
          : 'Their chunks that no other backup uses are freed by the next garbage collection.'}
      </Alert>
      <Title order={3} size="h6">
        {prune.dryRun ? 'Would be removed' : 'Removed'}
      </Title>
      <PruneTable label={prune.dryRun ? 'Backups that would be removed' : 'Removed backups'} rows={prune.removed} withReasons={false} />
      <Title order={3} size="h6">
        Kept
      </Title>
      <PruneTable label="Kept backups" rows={prune.kept} withReasons />
      <StatsLine stats={prune.stats} />
    </Stack>
  ));
}

export function GcResultView({ result }: { result: unknown }) {
  return parsed(GcResultSchema, result, (gc) => (
    <Stack gap="sm" data-testid="gc-result">
      <Alert color="green" icon={<IconCircleCheck />} title={`Freed ${formatBytes(gc.freedBytes)}`} role="status">
        {gc.removedChunks === 0
          ? 'No unreferenced chunk was old enough to remove.'
          : `${gc.removedChunks} unreferenced ${gc.removedChunks === 1 ? 'chunk' : 'chunks'} removed.`}
      </Alert>
      <StatsLine stats={gc.stats} />
    </Stack>
  ));
}

export function ReimportResultView({ result }: { result: unknown }) {
  return parsed(ReimportResultSchema, result, (reimport) => (
    <Stack gap="sm" data-testid="reimport-result">
      <Alert color="green" icon={<IconCircleCheck />} role="status" title={`${reimport.backups.length} ${reimport.backups.length === 1 ? 'backup' : 'backups'} found on the destination`}>
        The catalog now lists every backup the destination holds; they appear under Backups.
      </Alert>
      {reimport.backups.length > 0 && (
        <ScrollArea.Autosize mah={200} type="auto">
          <Table withRowBorders aria-label="Re-imported backups" fz="sm" verticalSpacing={4}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Created</Table.Th>
                <Table.Th>Of</Table.Th>
                <Table.Th>Logical size</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {reimport.backups.map((backup) => (
                <Table.Tr key={backup.id}>
                  <Table.Td style={{ whiteSpace: 'nowrap' }}>{formatDateTime(backup.createdAt)}</Table.Td>
                  <Table.Td style={{ overflowWrap: 'anywhere' }}>{backup.group}</Table.Td>
                  <Table.Td>{formatBytes(backup.logicalBytes)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </ScrollArea.Autosize>
      )}
      <StatsLine stats={reimport.stats} />
    </Stack>
  ));
}

export function CheckResultView({ result }: { result: unknown }) {
  return parsed(DestinationCheckResultSchema, result, (check) => (
    <Stack gap="sm" data-testid="check-result">
      <Alert color="green" icon={<IconCircleCheck />} role="status" title="The destination is reachable and writable">
        {`${check.created ? 'A new repository was created' : 'The repository was opened'}${check.encrypted ? ' (encrypted)' : ''}${check.freeBytes !== null && check.totalBytes !== null ? `; ${formatBytes(check.freeBytes)} free of ${formatBytes(check.totalBytes)}` : ''}.`}
      </Alert>
      <StatsLine stats={check.stats} />
    </Stack>
  ));
}
