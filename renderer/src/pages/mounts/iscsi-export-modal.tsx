import { IscsiStartRequestSchema, type Backup, type IscsiStartRequest, type IscsiStartResponse } from '@common/api/index.js';
import { Alert, Anchor, Autocomplete, Button, Modal, Stack, Table, Text, Textarea } from '@mantine/core';
import { IconAlertTriangle } from '@tabler/icons-react';
import { useState, type FormEvent } from 'react';
import { Link } from 'react-router-dom';
import { isApiError } from '../../api/api-error.js';
import { useStartIscsiMutation } from '../../api/mounts.queries.js';
import { CopyableCode } from '../../components/copyable-code.js';
import { DialogActions } from '../../components/dialog-actions.js';
import { FormError } from '../../components/form-error.js';
import { useInventoryVm } from '../../hooks/use-inventory-vm.js';
import { formatDateTime } from '../../utils/format.js';

type Field = 'disk' | 'initiatorNames' | 'initiatorAddresses';
type Errors = Partial<Record<Field, string>>;

/** One per line (or separated by spaces or commas), as people paste them. */
export function splitList(text: string): string[] {
  return text.split(/[\s,]+/).filter((item) => item !== '');
}

/** The request, or the contract's own messages placed on the fields they are about. */
export function validateIscsi(backup: number, disk: string, names: string, addresses: string): { request: IscsiStartRequest } | { errors: Errors } {
  const request = { backup, disk: disk.trim(), initiatorNames: splitList(names), initiatorAddresses: splitList(addresses) };
  const parsed = IscsiStartRequestSchema.safeParse(request);
  if (parsed.success) return { request };
  const errors: Errors = {};
  for (const issue of parsed.error.issues) {
    const [field, index] = issue.path;
    if (field !== 'disk' && field !== 'initiatorNames' && field !== 'initiatorAddresses') continue;
    if (errors[field] !== undefined) continue;
    const value = typeof index === 'number' ? request[field][index] : undefined;
    errors[field] = value === undefined ? issue.message : `${value}: ${field === 'initiatorAddresses' ? 'not an IPv4 or IPv6 address' : issue.message}`;
  }
  return { errors: Object.keys(errors).length > 0 ? errors : { initiatorNames: parsed.error.issues[0]?.message ?? 'Check the initiators' } };
}

interface IscsiExportModalProps {
  backup: Backup;
  diskHints: readonly string[];
  onClose: () => void;
}

/** Exports one disk of a backup read-only over iSCSI, to named initiators, with CHAP shown once. */
export function IscsiExportModal({ backup, diskHints, onClose }: IscsiExportModalProps) {
  const start = useStartIscsiMutation();
  const [disk, setDisk] = useState(diskHints[0] ?? 'vda');
  const [names, setNames] = useState('');
  const [addresses, setAddresses] = useState('');
  const [errors, setErrors] = useState<Errors>({});
  const [started, setStarted] = useState<IscsiStartResponse | null>(null);
  const vm = useInventoryVm(backup.vm);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const outcome = validateIscsi(backup.id, disk, names, addresses);
    if ('errors' in outcome) {
      setErrors(outcome.errors);
      return;
    }
    setErrors({});
    start.mutate(outcome.request, {
      onSuccess: setStarted,
      onError: (error) => {
        const field = isApiError(error) ? error.field : undefined;
        if (field === 'disk' || field === 'initiatorNames' || field === 'initiatorAddresses') setErrors({ [field]: error.message });
      },
    });
  };
  const shownOnField = isApiError(start.error) && (start.error.field === 'disk' || start.error.field === 'initiatorNames' || start.error.field === 'initiatorAddresses');
  const title = `Export over iSCSI: ${formatDateTime(backup.createdAt)}`;

  if (started !== null) {
    return (
      // Only "Done" closes it: a click beside the dialog must not lose the password.
      <Modal opened onClose={onClose} title={title} size="lg" closeOnClickOutside={false} closeOnEscape={false}>
        <Stack data-testid="iscsi-credentials">
          <Alert color="yellow" icon={<IconAlertTriangle />} title="Copy the CHAP password now" role="status">
            It is shown only here, once: the server does not keep it. Without it, close this export and start a new one.
          </Alert>
          <Table variant="vertical" layout="fixed" withTableBorder>
            <Table.Tbody>
              <CredentialRow label="Portal" value={started.portal} />
              <CredentialRow label="Target" value={started.target} />
              <CredentialRow label="LUN" value={String(started.lun)} />
              <CredentialRow label="CHAP user" value={started.chapUser} />
              <CredentialRow label="CHAP password" value={started.chapPassword} testId="chap-password" />
            </Table.Tbody>
          </Table>
          <Text size="sm" c="dimmed">
            {`The disk is read-only. The export closes after ${Math.round(started.mount.idleSeconds / 3600)} h without use; `}
            <Anchor component={Link} to="/mounts" size="sm" onClick={onClose}>
              Mounts
            </Anchor>
            {' lists it, to extend or close it.'}
          </Text>
          <DialogActions>
            <Button onClick={onClose}>Done</Button>
          </DialogActions>
        </Stack>
      </Modal>
    );
  }

  return (
    <Modal opened onClose={onClose} title={title} size="lg">
      <form onSubmit={submit} noValidate>
        <Stack>
          <Text size="sm">
            {`Serves one disk of this backup of ${vm?.name ?? backup.vm} as a read-only iSCSI LUN from its destination's node, so another machine can attach it. Only the initiators named here may log in.`}
          </Text>
          <Autocomplete
            label="Disk"
            description="The disk's name in the VM, e.g. vda"
            data={[...diskHints]}
            value={disk}
            onChange={setDisk}
            error={errors.disk}
            data-autofocus
          />
          <Textarea
            label="Initiator IQNs"
            description="One per line, e.g. iqn.1993-08.org.debian:01:abcdef"
            autosize
            minRows={2}
            spellCheck={false}
            value={names}
            onChange={(event) => setNames(event.currentTarget.value)}
            error={errors.initiatorNames}
          />
          <Textarea
            label="Initiator addresses"
            description="IPv4 or IPv6 addresses allowed to connect, one per line. Name at least one IQN or address."
            autosize
            minRows={2}
            spellCheck={false}
            value={addresses}
            onChange={(event) => setAddresses(event.currentTarget.value)}
            error={errors.initiatorAddresses}
          />
          <FormError error={shownOnField ? null : start.error} />
          <DialogActions>
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={start.isPending}>
              Start export
            </Button>
          </DialogActions>
        </Stack>
      </form>
    </Modal>
  );
}

function CredentialRow({ label, value, testId }: { label: string; value: string; testId?: string }) {
  return (
    <Table.Tr>
      <Table.Th w={140}>{label}</Table.Th>
      <Table.Td>
        <CopyableCode value={value} copyLabel={`Copy ${label.toLowerCase()}`} testId={testId} />
      </Table.Td>
    </Table.Tr>
  );
}
