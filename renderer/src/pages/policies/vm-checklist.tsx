import type { Policy } from '@common/api/index.js';
import { byHost, choiceMatches, vmChoiceNote, vmChoices, type VmChoice, type VmChoiceTone } from '@common/policy-vm-choices.js';
import { Alert, Badge, Checkbox, CloseButton, Group, Input, Paper, ScrollArea, Skeleton, Stack, Text, TextInput, Tooltip } from '@mantine/core';
import type { UseFormReturnType } from '@mantine/form';
import { IconAlertCircle, IconInfoCircle, IconSearch } from '@tabler/icons-react';
import { useMemo, useState } from 'react';
import { errorMessage } from '../../api/api-error.js';
import type { PolicyPreviewAnswer } from '../../api/policies.queries.js';
import { NO_SHRINK } from '../../utils/styles.js';
import type { PolicyFormValues } from './policy-form-model.js';

/** The list scrolls inside this height, so the form keeps fitting a 900 px high screen. */
const LIST_HEIGHT = 260;

const TONE_COLOR: Record<VmChoiceTone, string> = { plain: 'dimmed', move: 'orange.8', leave: 'red.7' };

interface VmChecklistProps {
  form: UseFormReturnType<PolicyFormValues>;
  /** The preview lists the inventory's VMs with where each is now and whether the rules take it. */
  answer: PolicyPreviewAnswer | undefined;
  /** The policy being edited (undefined: a new one). */
  policy: Policy | undefined;
  /** VM ids ticked when the form opened: one no longer listed still shows, to be unticked. */
  initiallyTicked: readonly number[];
  /** The VM a refused save named, with the server's reason. */
  refused: { vmId: number; message: string } | null;
  /** Why the preview (and so the list) could not be had, while there is no answer yet. */
  listError: unknown;
}

/**
 * The "Virtual machines" section's checklist: every VM of the inventory by host, ticked = in
 * the policy by hand. Each row says where the VM is now and what saving does to it when that
 * is not plain from the tick; the rules' matches are marked as they are typed.
 */
export function VmChecklist({ form, answer, policy, initiallyTicked, refused, listError }: VmChecklistProps) {
  const [search, setSearch] = useState('');
  const ticked = form.values.manualVms;
  const tickedSet = useMemo(() => new Set(ticked), [ticked]);
  const choices = useMemo(() => (answer === undefined ? undefined : withUnlisted(vmChoices(answer.preview.assignment, policy), initiallyTicked)), [answer, policy, initiallyTicked]);
  const shown = useMemo(() => choices?.filter((choice) => choiceMatches(choice, search)), [choices, search]);
  const matched = choices?.filter((choice) => choice.matches).length ?? 0;

  const toggle = (vmId: number, on: boolean) => {
    form.setFieldValue('manualVms', on ? [...ticked.filter((id) => id !== vmId), vmId] : ticked.filter((id) => id !== vmId));
  };

  let list;
  if ((choices === undefined || shown === undefined) && listError !== null && listError !== undefined) {
    list = (
      <Alert color="red" variant="light" icon={<IconAlertCircle />}>
        {`The virtual machines could not be listed: ${errorMessage(listError)}`}
      </Alert>
    );
  } else if (choices === undefined || shown === undefined) list = <Skeleton h={120} aria-label="Listing the virtual machines" />;
  else if (choices.length === 0) {
    list = (
      <Alert color="gray" variant="light" icon={<IconInfoCircle />}>
        No virtual machine in the inventory yet. VMs appear here once a hypervisor is added under Virtual machines.
      </Alert>
    );
  } else {
    list = (
      <Paper withBorder radius="sm">
        <ScrollArea.Autosize mah={LIST_HEIGHT} type="auto" offsetScrollbars data-testid="vm-checklist-scroll">
          {shown.length === 0 ? (
            <Text size="sm" c="dimmed" p="sm">{`No VM named like “${search.trim()}”.`}</Text>
          ) : (
            byHost(shown).map((group) => {
              const heading = group.hypervisor ?? 'Not on a host now';
              return (
                <div key={heading} role="group" aria-label={group.hypervisor === null ? heading : `VMs on ${heading}`}>
                  <Text size="xs" fw={700} c="dimmed" tt="uppercase" px="sm" pt="xs" pb={2} aria-hidden>
                    {heading}
                  </Text>
                  {group.choices.map((choice) => (
                    <ChoiceRow
                      key={choice.vmId}
                      choice={choice}
                      ticked={tickedSet.has(choice.vmId)}
                      policyId={policy?.id}
                      error={refused?.vmId === choice.vmId ? refused.message : undefined}
                      onChange={(on) => toggle(choice.vmId, on)}
                    />
                  ))}
                </div>
              );
            })
          )}
        </ScrollArea.Autosize>
      </Paper>
    );
  }

  return (
    <Input.Wrapper
      label="Choose VMs"
      description="Ticked VMs are in the policy by hand: its rules never take them out. A VM is in one policy of a kind at a time, so ticking one from another policy moves it here."
      labelElement="div"
      data-testid="vm-checklist"
    >
      <Stack gap="xs" mt={6}>
        {choices !== undefined && choices.length > 0 && (
          <TextInput
            label="Search VMs"
            placeholder="Name or host"
            leftSection={<IconSearch size={16} aria-hidden />}
            rightSection={search === '' ? null : <CloseButton size="sm" aria-label="Clear the search" onClick={() => setSearch('')} />}
            value={search}
            onChange={(event) => setSearch(event.currentTarget.value)}
            autoComplete="off"
            spellCheck={false}
          />
        )}
        {list}
        {choices !== undefined && choices.length > 0 && (
          <Text size="xs" c="dimmed" aria-live="polite">
            {`${ticked.length} ticked · ${matched} matched by rules · ${choices.length} ${choices.length === 1 ? 'VM' : 'VMs'}`}
          </Text>
        )}
      </Stack>
    </Input.Wrapper>
  );
}

/** VMs ticked when the form opened that the inventory no longer lists (a refused save kept them ticked). */
function withUnlisted(choices: VmChoice[], ticked: readonly number[]): VmChoice[] {
  const listed = new Set(choices.map((choice) => choice.vmId));
  const unlisted = ticked.filter((id) => !listed.has(id)).map((vmId): VmChoice => ({ vmId, name: `VM ${vmId}`, hypervisor: null, matches: false, reason: 'no longer in the inventory', current: null }));
  return unlisted.length === 0 ? choices : [...choices, ...unlisted];
}

function ChoiceRow({ choice, ticked, policyId, error, onChange }: { choice: VmChoice; ticked: boolean; policyId: number | undefined; error: string | undefined; onChange: (on: boolean) => void }) {
  const note = vmChoiceNote(choice, ticked, policyId);
  const unlisted = choice.hypervisor === null && choice.current === null;
  return (
    <Group
      justify="space-between"
      align="flex-start"
      wrap="nowrap"
      gap="xs"
      px="sm"
      py={6}
      data-vm={choice.name}
      data-checked={ticked}
      data-matched={choice.matches}
    >
      <Checkbox
        label={<span style={{ overflowWrap: 'anywhere' }}>{choice.name}</span>}
        description={
          note === null && !unlisted ? undefined : (
            <Text span size="xs" c={TONE_COLOR[note?.tone ?? 'plain']}>
              {note?.text ?? 'No longer in the inventory'}
            </Text>
          )
        }
        error={error}
        checked={ticked}
        onChange={(event) => onChange(event.currentTarget.checked)}
      />
      {choice.matches && (
        <Tooltip label={`The rules take it in: ${choice.reason}`}>
          <Badge component="span" size="sm" variant="light" color="teal" style={NO_SHRINK} tabIndex={0}>
            Matched by rules
          </Badge>
        </Tooltip>
      )}
    </Group>
  );
}
