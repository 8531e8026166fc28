import type { Policy, Vm } from '@common/api/index.js';
import {
  ActionIcon,
  Alert,
  Anchor,
  Badge,
  Button,
  Code,
  Group,
  Paper,
  SimpleGrid,
  Skeleton,
  Stack,
  Table,
  Text,
  Title,
  Tooltip,
} from '@mantine/core';
import { IconCut, IconEdit, IconInfoCircle, IconPlus, IconTrash } from '@tabler/icons-react';
import { useMemo, useState, type ReactNode } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { isApiError } from '../api/api-error.js';
import { usePolicyQuery } from '../api/policies.queries.js';
import { useVmsQuery } from '../api/vms.queries.js';
import { useSession } from '../auth/session-context.js';
import { BackLink } from '../components/back-link.js';
import { NotFoundState } from '../components/not-found-state.js';
import { PageHeader } from '../components/page-header.js';
import { QueryErrorAlert } from '../components/query-error-alert.js';
import { VmStateBadge } from '../components/vm-state-badge.js';
import { ASSIGN_MODE_LABELS, describeRetention } from '../utils/policy-format.js';
import { describeSnapshotRetention } from '../utils/snapshot-format.js';
import { NO_SHRINK } from '../utils/styles.js';
import { AddVmsModal } from './policies/add-vms-modal.js';
import { ApplyRetentionModal } from './policies/apply-retention-modal.js';
import { DeletePolicyModal } from './policies/delete-policy-modal.js';
import { EnabledBadge, NextRun, PolicyKindBadge } from './policies/policy-columns.js';
import { PolicyRunsSection } from './policies/policy-runs-section.js';
import { RemoveVmModal } from './policies/remove-vm-modal.js';
import { RunNowButton } from './policies/run-now-button.js';
import { LastBackup } from './vms/vm-columns.js';

export function PolicyDetailsPage() {
  const ref = useParams().policy ?? '';
  const policy = usePolicyQuery(ref);

  if (isApiError(policy.error, 404)) {
    return (
      <NotFoundState
        pageTitle="Policy not found"
        title={`There is no policy "${ref}"`}
        description="It may have been deleted (its backups stay), or the link is wrong."
        back={{ to: '/policies', label: 'All policies' }}
        goTo={{ to: '/policies', label: 'Go to policies' }}
      />
    );
  }
  if (policy.data === undefined) {
    if (policy.isError) return <QueryErrorAlert title="Could not load the policy" error={policy.error} onRetry={() => void policy.refetch()} />;
    return <Skeleton h={320} radius="md" aria-label="Loading the policy" />;
  }
  return <PolicyDetails key={policy.data.id} policy={policy.data} />;
}

type Dialog = 'delete' | 'retention' | 'add-vms' | null;

function PolicyDetails({ policy }: { policy: Policy }) {
  const { isAdmin, canChange } = useSession();
  const navigate = useNavigate();
  const [dialog, setDialog] = useState<Dialog>(null);
  const close = () => setDialog(null);
  const hasRetention = policy.retention !== null && policy.destinationId !== null;

  return (
    <>
      <BackLink to="/policies" label="All policies" />
      <PageHeader
        title={policy.name}
        description={
          <Group gap="xs" component="span">
            <EnabledBadge enabled={policy.enabled} />
            <PolicyKindBadge kind={policy.kind} />
            <span>
              {policy.destinationId === null ? (
                'Snapshots on the VMs’ hosts'
              ) : (
                <>
                  {'Backs up to '}
                  <Anchor component={Link} to={`/destinations/${policy.destinationId}`} size="sm">
                    {policy.destination ?? `destination ${policy.destinationId}`}
                  </Anchor>
                </>
              )}
            </span>
          </Group>
        }
        actions={
          <Group gap="xs">
            <RunNowButton policy={policy} />
            {canChange && policy.kind !== 'snapshot' && (
              <Button
                variant="default"
                leftSection={<IconCut size={16} aria-hidden />}
                disabled={!hasRetention}
                title={hasRetention ? 'Prune by the retention rules, then reclaim space' : 'This policy has no retention rules'}
                onClick={() => setDialog('retention')}
              >
                Apply retention now
              </Button>
            )}
            {isAdmin && (
              <Button variant="default" component={Link} to={`/policies/${policy.id}/edit`} leftSection={<IconEdit size={16} aria-hidden />}>
                Edit
              </Button>
            )}
            {isAdmin && (
              <Button variant="light" color="red" leftSection={<IconTrash size={16} aria-hidden />} onClick={() => setDialog('delete')}>
                Delete
              </Button>
            )}
          </Group>
        }
      />
      <Stack>
        <PolicySettings policy={policy} />
        {policy.kind === 'm365' ? <PolicyM365Members policy={policy} /> : <PolicyVms policy={policy} onAdd={() => setDialog('add-vms')} />}
        <PolicyRunsSection policy={policy} />
      </Stack>
      {dialog === 'delete' && <DeletePolicyModal policy={policy} onClose={close} onDeleted={() => void navigate('/policies')} />}
      {dialog === 'retention' && <ApplyRetentionModal policy={policy} onClose={close} />}
      {dialog === 'add-vms' && <AddVmsModal policy={policy} onClose={close} />}
    </>
  );
}

function Setting({ label, children }: { label: string; children: ReactNode }) {
  return (
    <Stack gap={2}>
      <Text size="xs" c="dimmed" tt="uppercase" fw={700} component="dt">
        {label}
      </Text>
      <Text size="sm" component="dd" m={0}>
        {children}
      </Text>
    </Stack>
  );
}

function CodeList({ items, none }: { items: readonly string[]; none: string }) {
  if (items.length === 0) return <Text span size="sm" c="dimmed">{none}</Text>;
  return (
    <Group gap={4} component="span">
      {items.map((item) => (
        <Code key={item}>{item}</Code>
      ))}
    </Group>
  );
}

function PolicySettings({ policy }: { policy: Policy }) {
  const { assignment, retention } = policy;
  return (
    <Paper withBorder radius="md" p="md" component="section" aria-labelledby="settings-heading">
      <Title order={2} size="h4" mb="md" id="settings-heading">
        Settings
      </Title>
      <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }} spacing="lg" verticalSpacing="md" component="dl" m={0}>
        <Setting label="Schedules">
          <CodeList items={policy.schedules} none="None: runs only when started by hand" />
        </Setting>
        <Setting label="Next run">
          <NextRun policy={policy} />
        </Setting>
        <Setting label="Time zone">{policy.timeZone}</Setting>
        {policy.kind === 'snapshot' ? (
          <Setting label="Retention">
            {`${describeSnapshotRetention(retention?.keepLast)} of each VM`}
            <Text span size="xs" c="dimmed" display="block">
              The oldest of its own snapshots go after each run; others are never touched
            </Text>
          </Setting>
        ) : (
          <>
            <Setting label="Retention">
              {describeRetention(retention)}
              {retention !== null && policy.kind === 'backup' && (
                <Text span size="xs" c="dimmed" display="block">
                  {retention.keepLatestOfExistingVm ? 'The latest backup of a VM that still exists is always kept' : 'Deleted VMs’ backups age out too'}
                </Text>
              )}
            </Setting>
            <Setting label="Retention schedule">{policy.retentionSchedule === null ? 'After each run' : <Code>{policy.retentionSchedule}</Code>}</Setting>
            <Setting label="Verify">
              {policy.verifySchedule === null ? (
                'Not scheduled'
              ) : (
                <>
                  <Code>{policy.verifySchedule}</Code>
                  {policy.verifyParts > 1 ? `, one of ${policy.verifyParts} parts each time` : ', every chunk'}
                </>
              )}
            </Setting>
          </>
        )}
        <Setting label="Priority">{policy.priority}</Setting>
        <Setting label={policy.kind === 'm365' ? 'Include users and sites named like' : 'Include VMs named like'}>
          <CodeList items={assignment.include} none="None by name" />
        </Setting>
        <Setting label={policy.kind === 'm365' ? 'Exclude users and sites named like' : 'Exclude VMs named like'}>
          <CodeList items={assignment.exclude} none="None" />
        </Setting>
        {policy.kind !== 'm365' && (
          <>
            <Setting label="Hypervisors">{assignment.hypervisors.length === 0 ? <Text span size="sm" c="dimmed">None</Text> : assignment.hypervisors.join(', ')}</Setting>
            <Setting label="Assignment mode">{ASSIGN_MODE_LABELS[assignment.mode]}</Setting>
          </>
        )}
        <Setting label="Fail the rest of the run above">{policy.failRunAbovePercent === null ? 'Never' : `${policy.failRunAbovePercent} %`}</Setting>
      </SimpleGrid>
    </Paper>
  );
}

type PolicyVm = Policy['vms'][number];

/** An m365 policy's users and sites: what its rules match in the last sync, owned by no policy of higher priority. */
function PolicyM365Members({ policy }: { policy: Policy }) {
  const members = policy.m365Members ?? [];
  return (
    <Paper withBorder radius="md" p="md" component="section" aria-labelledby="policy-members-heading">
      <Title order={2} size="h4" id="policy-members-heading" mb="sm">
        {`Users and sites (${members.length})`}
      </Title>
      {members.length === 0 ? (
        <Alert color="gray" variant="light" icon={<IconInfoCircle />}>
          No Microsoft 365 user or site is in this policy. Users with a OneDrive and sites with a document library join when their name matches an include pattern.
        </Alert>
      ) : (
        <Table striped verticalSpacing="sm" aria-label={`Users and sites in ${policy.name}`}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th scope="col">Name</Table.Th>
              <Table.Th scope="col">Kind</Table.Th>
              <Table.Th scope="col">Tenant</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {members.map((m) => (
              <Table.Tr key={`${m.kind}:${m.id}`}>
                <Table.Td>{m.name}</Table.Td>
                <Table.Td>{m.kind === 'user' ? 'User (OneDrive)' : 'Site (libraries)'}</Table.Td>
                <Table.Td>{m.tenant}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Paper>
  );
}

function PolicyVms({ policy, onAdd }: { policy: Policy; onAdd: () => void }) {
  const { isAdmin } = useSession();
  const vms = useVmsQuery();
  const [removing, setRemoving] = useState<PolicyVm | null>(null);
  const byId = useMemo(() => new Map((vms.data ?? []).map((vm) => [vm.id, vm])), [vms.data]);
  const rows = useMemo(() => [...policy.vms].sort((a, b) => a.name.localeCompare(b.name)), [policy.vms]);

  return (
    <Paper withBorder radius="md" p="md" component="section" aria-labelledby="policy-vms-heading">
      <Group justify="space-between" mb="sm">
        <Title order={2} size="h4" id="policy-vms-heading">
          {`Virtual machines (${policy.vms.length})`}
        </Title>
        {isAdmin && (
          <Button size="xs" variant="default" leftSection={<IconPlus size={14} aria-hidden />} onClick={onAdd}>
            Add VMs
          </Button>
        )}
      </Group>
      {rows.length === 0 ? (
        <Alert color="gray" variant="light" icon={<IconInfoCircle />}>
          No virtual machine is in this policy. VMs join when their name matches an include pattern or they run on a chosen hypervisor
          {isAdmin ? ', or when added by hand.' : '.'}
        </Alert>
      ) : (
        <Table.ScrollContainer minWidth={720}>
          <Table striped verticalSpacing="sm" aria-label={`Virtual machines in ${policy.name}`}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th scope="col">Name</Table.Th>
                <Table.Th scope="col">Host</Table.Th>
                <Table.Th scope="col">State</Table.Th>
                <Table.Th scope="col">Added</Table.Th>
                <Table.Th scope="col">Last backup</Table.Th>
                {isAdmin && <Table.Th scope="col" aria-label="Actions" />}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((member) => (
                <PolicyVmRow key={member.id} member={member} vm={byId.get(member.id)} canRemove={isAdmin} onRemove={() => setRemoving(member)} />
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {removing !== null && <RemoveVmModal policy={policy} vm={removing} onClose={() => setRemoving(null)} />}
    </Paper>
  );
}

function PolicyVmRow({ member, vm, canRemove, onRemove }: { member: PolicyVm; vm: Vm | undefined; canRemove: boolean; onRemove: () => void }) {
  return (
    <Table.Tr>
      <Table.Td>
        <Anchor component={Link} to={`/vms/${member.id}`} size="sm" fw={500}>
          {member.name}
        </Anchor>
      </Table.Td>
      <Table.Td>
        <Text size="sm">{vm?.hypervisor ?? '—'}</Text>
      </Table.Td>
      <Table.Td>{vm === undefined ? '—' : <VmStateBadge vm={vm} />}</Table.Td>
      <Table.Td>
        <Tooltip label={member.source === 'auto' ? 'Matched by the policy’s rules' : 'Added by hand; the rules never take it out'}>
          <Badge component="span" variant="light" color={member.source === 'auto' ? 'blue' : 'grape'} style={NO_SHRINK} data-source={member.source} tabIndex={0}>
            {member.source === 'auto' ? 'By rules' : 'By hand'}
          </Badge>
        </Tooltip>
      </Table.Td>
      <Table.Td>{vm === undefined ? '—' : <LastBackup vm={vm} />}</Table.Td>
      {canRemove && (
        <Table.Td>
          <Tooltip label="Remove from the policy">
            <ActionIcon variant="subtle" color="red" aria-label={`Remove ${member.name} from the policy`} onClick={onRemove}>
              <IconTrash size={16} aria-hidden />
            </ActionIcon>
          </Tooltip>
        </Table.Td>
      )}
    </Table.Tr>
  );
}
