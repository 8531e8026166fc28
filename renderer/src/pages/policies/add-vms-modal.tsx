import type { Policy, Vm } from '@common/api/index.js';
import { Alert, Button, Group, Modal, MultiSelect, Stack, Text } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconInfoCircle } from '@tabler/icons-react';
import { useMemo, useState, type FormEvent } from 'react';
import { usePolicyVmsMutation } from '../../api/policies.queries.js';
import { useVmsQuery } from '../../api/vms.queries.js';
import { FormError } from '../../components/form-error.js';
import { compareVms } from '../../utils/vm-format.js';

/** VMs not in a policy first (that is what people look for), then those another policy has. */
function vmOptions(vms: readonly Vm[], policy: Policy) {
  const inThis = new Set(policy.vms.map((vm) => vm.id));
  const candidates = vms.filter((vm) => vm.present && !inThis.has(vm.id)).sort(compareVms);
  const unprotected = candidates.filter((vm) => vm.policy === null);
  const elsewhere = candidates.filter((vm) => vm.policy !== null);
  const groups = [];
  if (unprotected.length > 0) groups.push({ group: 'Not in a policy', items: unprotected.map((vm) => ({ value: String(vm.id), label: `${vm.name} (${vm.hypervisor})` })) });
  if (elsewhere.length > 0) {
    groups.push({ group: 'In another policy (moves here)', items: elsewhere.map((vm) => ({ value: String(vm.id), label: `${vm.name} (${vm.hypervisor}) · ${vm.policy ?? ''}` })) });
  }
  return groups;
}

export function AddVmsModal({ policy, onClose }: { policy: Policy; onClose: () => void }) {
  const vms = useVmsQuery();
  const assign = usePolicyVmsMutation();
  const [chosen, setChosen] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  const options = useMemo(() => vmOptions(vms.data ?? [], policy), [vms.data, policy]);
  const none = vms.isSuccess && options.length === 0;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (chosen.length === 0) {
      setError('Choose at least one VM');
      return;
    }
    assign.mutate(
      { id: policy.id, action: 'assign', vms: chosen.map(Number) },
      {
        onSuccess: () => {
          notifications.show({ color: 'green', message: `${chosen.length} ${chosen.length === 1 ? 'VM' : 'VMs'} added to ${policy.name}.` });
          onClose();
        },
      },
    );
  };

  return (
    <Modal opened onClose={onClose} title={`Add VMs to ${policy.name}`} size="lg">
      <form onSubmit={submit} noValidate>
        <Stack>
          <FormError error={assign.error} />
          {none ? (
            <Alert color="gray" variant="light" icon={<IconInfoCircle />}>
              Every virtual machine on its host is in this policy already, or there is none yet.
            </Alert>
          ) : (
            <MultiSelect
              label="Virtual machines"
              placeholder={vms.isPending ? 'Loading virtual machines…' : 'Choose VMs'}
              data={options}
              value={chosen}
              onChange={(value) => {
                setChosen(value);
                setError(null);
              }}
              error={error}
              searchable
              clearable
              nothingFoundMessage="No VM with that name"
              data-autofocus
            />
          )}
          <Text size="xs" c="dimmed">
            VMs added by hand stay in this policy whatever its rules say, until they are removed here. A VM is in one backup policy at a
            time: one from another policy moves here.
          </Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={assign.isPending} disabled={none}>
              Add VMs
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
