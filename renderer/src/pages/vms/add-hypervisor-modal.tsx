import { CreateHypervisorSchema } from '@common/api/index.js';
import { Button, Modal, Stack, Text, TextInput } from '@mantine/core';
import { useForm } from '@mantine/form';
import { notifications } from '@mantine/notifications';
import { useEffect } from 'react';
import { z } from 'zod';
import { isApiError, showOnField } from '../../api/api-error.js';
import { useCreateHypervisorMutation } from '../../api/hypervisors.queries.js';
import { useNodesQuery } from '../../api/nodes.queries.js';
import { DialogActions } from '../../components/dialog-actions.js';
import { FormError } from '../../components/form-error.js';
import { NodeSelect, NoNodeAlert } from '../../components/node-select.js';
import { plainResolver } from '../../utils/form-validation.js';

export const DEFAULT_LIBVIRT_URI = 'qemu:///system';

const AddHypervisorFormSchema = z.object({
  name: CreateHypervisorSchema.shape.name,
  node: z.string().min(1, 'Choose the node installed on this KVM host'),
  uri: z.string().trim().min(1, 'A libvirt URI such as qemu:///system').pipe(CreateHypervisorSchema.shape.uri.unwrap()),
});
type AddHypervisorForm = z.input<typeof AddHypervisorFormSchema>;

const FIELDS = ['name', 'node', 'uri'] as const;
type Field = (typeof FIELDS)[number];

/**
 * The field the server names; a failed first sync (libvirt not reachable…) shows at the top,
 * where the whole form is in question and virsh's own words fold away behind "Details".
 */
function errorField(error: unknown): Field | null {
  if (!isApiError(error) || error.detail !== undefined) return null;
  return FIELDS.find((field) => field === error.field) ?? null;
}

/**
 * A KVM host is added through the node installed on it. The server lists the host's VMs
 * (an inventory sync on that node) before it answers, so a wrong URI or a libvirt that does
 * not answer is reported here, in the node's words.
 */
export function AddHypervisorModal({ onClose }: { onClose: () => void }) {
  const create = useCreateHypervisorMutation();
  const nodes = useNodesQuery();
  const form = useForm<AddHypervisorForm>({
    mode: 'controlled',
    initialValues: { name: '', node: '', uri: DEFAULT_LIBVIRT_URI },
    validate: plainResolver(AddHypervisorFormSchema),
  });

  // One online node: it is the only choice, so choose it (and offer its name for the host).
  const onlineNodes = (nodes.data ?? []).filter((node) => node.status === 'online');
  const onlyNode = onlineNodes.length === 1 ? onlineNodes[0] : undefined;
  const nodeChosen = form.values.node !== '';
  useEffect(() => {
    if (onlyNode === undefined || nodeChosen) return;
    form.setFieldValue('node', String(onlyNode.id));
    if (form.values.name === '' && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(onlyNode.name)) form.setFieldValue('name', onlyNode.name);
    // Only when the choice appears, not on every edit: it must not fight the user's own choice.
  }, [onlyNode?.id]);

  const chosenNode = nodes.data?.find((node) => String(node.id) === form.values.node);

  const submit = form.onSubmit(({ name, node, uri }) => {
    create.mutate(
      { name: name.trim(), node, uri: uri.trim() },
      {
        onSuccess: (hypervisor) => {
          notifications.show({
            color: 'green',
            message: `Hypervisor ${hypervisor.name} added: ${hypervisor.vms} ${hypervisor.vms === 1 ? 'VM' : 'VMs'} found.`,
          });
          onClose();
        },
        onError: showOnField(form, errorField),
      },
    );
  });

  const noNodes = nodes.isSuccess && nodes.data.length === 0;

  return (
    <Modal opened onClose={onClose} title="Add hypervisor" size="lg" closeOnClickOutside={!create.isPending}>
      <form onSubmit={submit} noValidate>
        <Stack>
          <FormError error={errorField(create.error) === null ? create.error : null} />
          {noNodes && <NoNodeAlert>A KVM host is reached through a node installed on it.</NoNodeAlert>}
          <TextInput label="Name" description="How the UI and the CLI refer to this host, e.g. kvm-office" autoComplete="off" data-autofocus {...form.getInputProps('name')} />
          <NodeSelect nodes={nodes.data} loading={nodes.isPending} description="The node installed on the KVM host; it talks to libvirt there" {...form.getInputProps('node')} />
          <TextInput
            label="URI"
            description="The libvirt connection on that host; qemu:///system for the system's VMs"
            autoComplete="off"
            spellCheck={false}
            ff="monospace"
            {...form.getInputProps('uri')}
          />
          {create.isPending && (
            <Text size="sm" c="dimmed" role="status">
              {`Connecting to ${form.values.uri} on ${chosenNode?.name ?? 'the node'} and listing its virtual machines…`}
            </Text>
          )}
          <DialogActions>
            <Button variant="default" onClick={onClose} disabled={create.isPending}>
              Cancel
            </Button>
            <Button type="submit" loading={create.isPending}>
              Add hypervisor
            </Button>
          </DialogActions>
        </Stack>
      </form>
    </Modal>
  );
}
