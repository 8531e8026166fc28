import { TextInput, type TextInputProps } from '@mantine/core';

/** A schedule rule typed as text ("daily 03:00"): monospace, no autocomplete or spell check. */
export function ScheduleInput(props: TextInputProps) {
  return <TextInput autoComplete="off" spellCheck={false} styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }} {...props} />;
}
