import { ActionIcon, Button, Group, Input, Stack, TextInput } from '@mantine/core';
import type { UseFormReturnType } from '@mantine/form';
import { IconPlus, IconTrash } from '@tabler/icons-react';
import type { ReactNode } from 'react';
import { line, type PolicyFormValues } from './policy-form-model.js';

interface LineListInputProps {
  form: UseFormReturnType<PolicyFormValues>;
  path: 'schedules' | 'include' | 'exclude';
  label: string;
  description?: ReactNode;
  /** Each line's accessible name, e.g. "Schedule rule 2". */
  itemLabel: (row: number) => string;
  placeholder?: string;
  addLabel: string;
  /** Problems found outside the form's own checks, by row (schedule rules the server could not read). */
  rowErrors?: ReadonlyMap<number, string>;
  /** Shown instead of the lines when there are none. */
  emptyText?: ReactNode;
}

/** A list of one-line text values (schedule rules, name patterns) with add and remove. */
export function LineListInput({ form, path, label, description, itemLabel, placeholder, addLabel, rowErrors, emptyText }: LineListInputProps) {
  const items = form.values[path];
  const id = `${path}-list`;
  return (
    <Input.Wrapper label={label} description={description} id={id} labelElement="div" role="group" aria-labelledby={`${id}-label`} labelProps={{ id: `${id}-label` }}>
      <Stack gap="xs" mt={6}>
        {items.length === 0 && emptyText}
        {items.map((item, row) => {
          const inputProps = form.getInputProps(`${path}.${row}.value`);
          const error = (inputProps['error'] as ReactNode) ?? rowErrors?.get(row);
          return (
            <Group key={item.key} gap="xs" align="flex-start" wrap="nowrap">
              <TextInput
                {...inputProps}
                error={error}
                aria-label={itemLabel(row)}
                placeholder={placeholder}
                autoComplete="off"
                spellCheck={false}
                styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
                style={{ flex: 1 }}
              />
              <ActionIcon variant="subtle" color="gray" size="lg" aria-label={`Remove ${itemLabel(row).toLowerCase()}`} onClick={() => form.removeListItem(path, row)}>
                <IconTrash size={16} aria-hidden />
              </ActionIcon>
            </Group>
          );
        })}
        <Group>
          <Button variant="subtle" size="xs" leftSection={<IconPlus size={14} aria-hidden />} onClick={() => form.insertListItem(path, line())}>
            {addLabel}
          </Button>
        </Group>
      </Stack>
    </Input.Wrapper>
  );
}
