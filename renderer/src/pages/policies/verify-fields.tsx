import { Group, NumberInput } from '@mantine/core';
import type { UseFormReturnType } from '@mantine/form';
import type { PolicyFormValues } from './policy-form-model.js';
import { ScheduleInput } from './schedule-input.js';

/** A backup policy's scheduled verify: when, and in how many parts the chunks are checked in turn. */
export function VerifyFields({ form }: { form: UseFormReturnType<PolicyFormValues> }) {
  return (
    <Group align="flex-start" grow>
      <ScheduleInput
        label="Verify schedule"
        description='When to verify, e.g. "sun 04:00" or "1st sat 02:00" (no full/incremental). Empty: never by this policy.'
        placeholder="sun 04:00"
        {...form.getInputProps('verifySchedule')}
      />
      <NumberInput
        label="Parts"
        description="Each run checks one part of the chunks, in turn; 1 checks everything every time."
        min={1}
        max={1000}
        allowDecimal={false}
        allowNegative={false}
        clampBehavior="none"
        {...form.getInputProps('verifyParts')}
      />
    </Group>
  );
}
