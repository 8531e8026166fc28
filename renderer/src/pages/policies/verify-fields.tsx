import { Group, NumberInput, TextInput } from '@mantine/core';
import type { UseFormReturnType } from '@mantine/form';
import type { PolicyFormValues } from './policy-form-model.js';

/** A backup policy's scheduled verify: when, and in how many parts the chunks are checked in turn. */
export function VerifyFields({ form }: { form: UseFormReturnType<PolicyFormValues> }) {
  return (
    <Group align="flex-start" grow>
      <TextInput
        label="Verify schedule"
        description='When to verify, e.g. "sun 04:00" or "1st sat 02:00" (no full/incremental). Empty: never by this policy.'
        placeholder="sun 04:00"
        autoComplete="off"
        spellCheck={false}
        styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
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
