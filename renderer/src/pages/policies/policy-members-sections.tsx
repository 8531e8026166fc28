import type { Policy } from '@common/api/index.js';
import { MultiSelect, Radio, Stack, Text } from '@mantine/core';
import type { UseFormReturnType } from '@mantine/form';
import { useMemo } from 'react';
import { useHypervisorsQuery } from '../../api/hypervisors.queries.js';
import { LineListInput } from './line-list-input.js';
import type { PolicyFormValues } from './policy-form-model.js';
import type { PolicyPreviewAnswer } from '../../api/policies.queries.js';
import { Section } from './policy-section.js';
import { VmChecklist } from './vm-checklist.js';

type Form = UseFormReturnType<PolicyFormValues>;

/** A Microsoft 365 policy's members: users and sites by name patterns, matched at each run. */
export function M365MembersSection({ form }: { form: Form }) {
  return (
      <Section
        title="Users and sites"
        description="Users (their OneDrive) and sites (their document libraries) of every tenant join by name at each run; an exclude pattern wins. One a policy of higher priority also matches is backed up by that policy only."
      >
        <LineListInput
          form={form}
          path="include"
          label="Include users and sites named like"
          description="JavaScript regular expressions over user principal names and site names, in any case, e.g. ^alice@ or ^finance$. Empty: none."
          itemLabel={(row) => `Include pattern ${row + 1}`}
          placeholder="^alice@"
          addLabel="Add include pattern"
        />
        <LineListInput
          form={form}
          path="exclude"
          label="Exclude users and sites named like"
          itemLabel={(row) => `Exclude pattern ${row + 1}`}
          placeholder="^test-"
          addLabel="Add exclude pattern"
          emptyText={<Text size="sm" c="dimmed">None excluded.</Text>}
        />
      </Section>
  );
}

interface VmMembersSectionProps {
  form: Form;
  answer: PolicyPreviewAnswer | undefined;
  policy: Policy | undefined;
  initiallyTicked: readonly number[];
  refused: { vmId: number; message: string } | null;
  listError: unknown;
}

/** A backup or snapshot policy's VMs: ticked by hand, or taken in by name patterns and hypervisors. */
export function VmMembersSection({ form, answer, policy, initiallyTicked, refused, listError }: VmMembersSectionProps) {
  const hypervisors = useHypervisorsQuery();
  const hypervisorOptions = useMemo(() => {
    const names = (hypervisors.data ?? []).map((hypervisor) => hypervisor.name);
    // A rule may name a host that has since been removed: it must still show, and be removable.
    for (const name of form.values.hypervisors) if (!names.includes(name)) names.push(name);
    return names;
  }, [hypervisors.data, form.values.hypervisors]);
  return (
      <Section
        title="Virtual machines"
        description="Tick the VMs the policy takes, or let rules take them in: VMs matching a name pattern or on a chosen hypervisor join automatically, VMs created later too; an exclude pattern wins over both."
      >
        <VmChecklist
          form={form}
          answer={answer}
          policy={policy}
          initiallyTicked={initiallyTicked}
          refused={refused}
          listError={listError}
        />
        <LineListInput
          form={form}
          path="include"
          label="Include VMs named like"
          description="JavaScript regular expressions, e.g. ^prod- or ^(web|db)[0-9]+$. Empty: none by name."
          itemLabel={(row) => `Include pattern ${row + 1}`}
          placeholder="^prod-"
          addLabel="Add include pattern"
        />
        <LineListInput
          form={form}
          path="exclude"
          label="Exclude VMs named like"
          itemLabel={(row) => `Exclude pattern ${row + 1}`}
          placeholder="-test$"
          addLabel="Add exclude pattern"
          emptyText={<Text size="sm" c="dimmed">None excluded.</Text>}
        />
        <MultiSelect
          label="Hypervisors"
          description="Every VM on these hosts is included"
          placeholder={form.values.hypervisors.length === 0 ? (hypervisors.isPending ? 'Loading hypervisors…' : 'None') : undefined}
          data={hypervisorOptions}
          searchable
          clearable
          nothingFoundMessage="No hypervisor with that name"
          {...form.getInputProps('hypervisors')}
        />
        <Radio.Group label="Assignment mode" {...form.getInputProps('mode')}>
          <Stack gap="xs" mt="xs">
            <Radio value="assign-only" label="Assign only" description="VMs that stop matching stay in the policy until taken out by hand." />
            <Radio
              value="assign-and-remove"
              label="Assign and remove"
              description="VMs that stop matching leave the policy. VMs added by hand always stay."
            />
          </Stack>
        </Radio.Group>
      </Section>
  );
}
