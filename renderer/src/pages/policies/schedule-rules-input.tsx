import { builderFromRule, defaultBuilderValue, ruleFromBuilder } from '@common/schedule-builder.js';
import { ActionIcon, Alert, Badge, Button, Group, Paper, SegmentedControl, Stack, Text, TextInput, Tooltip, UnstyledButton } from '@mantine/core';
import type { UseFormReturnType } from '@mantine/form';
import { IconInfoCircle, IconPlus, IconTrash } from '@tabler/icons-react';
import { useEffect, useRef, useState } from 'react';
import { ScheduleBuilderFields } from './schedule-builder-fields.js';
import { LineListInput } from './line-list-input.js';
import { line, scheduleExamples, type PolicyFormValues } from './policy-form-model.js';

type Mode = 'builder' | 'text';

interface ScheduleRulesInputProps {
  form: UseFormReturnType<PolicyFormValues>;
  /** Problems the server found, by row. */
  rowErrors: ReadonlyMap<number, string>;
  /** The builder's unfinished choices, by row key: the form refuses to save while there are any. */
  draftErrors: Map<string, string>;
}

/** The rule a new builder rule writes: "incremental mon-fri 22:00" (no type for snapshots). */
function defaultRule(kind: 'backup' | 'snapshot' | 'm365'): string {
  const made = ruleFromBuilder(defaultBuilderValue(kind));
  return made.ok ? made.rule : '';
}

/** Every rule the builder can show: then it starts in the builder, else as text. */
const builderShowsAll = (values: PolicyFormValues): boolean => values.schedules.every((item) => builderFromRule(item.value, values.kind).ok);

/**
 * The policy's schedule rules, in the builder (choices) or as text (one rule per line). Both
 * edit the same rule text, so switching keeps the rules; a rule the builder cannot show stays
 * as text in the builder too, with a note saying why.
 */
export function ScheduleRulesInput({ form, rowErrors, draftErrors }: ScheduleRulesInputProps) {
  const { values } = form;
  const [mode, setMode] = useState<Mode>(() => (builderShowsAll(values) ? 'builder' : 'text'));
  const kind = values.kind;

  // In the builder an empty rule is the builder's default one: what is shown is what is saved.
  const emptyRows = values.schedules.filter((item) => item.value.trim() === '').length;
  useEffect(() => {
    if (mode !== 'builder' || emptyRows === 0) return;
    const rule = defaultRule(kind);
    values.schedules.forEach((item, row) => {
      if (item.value.trim() === '') form.setFieldValue(`schedules.${row}.value`, rule);
    });
  }, [mode, emptyRows, kind]);

  // Another kind of policy: the builder's rules gain or lose their backup type.
  const previousKind = useRef(kind);
  useEffect(() => {
    const from = previousKind.current;
    previousKind.current = kind;
    if (from === kind) return;
    values.schedules.forEach((item, row) => {
      const view = builderFromRule(item.value, from);
      if (!view.ok || item.value.trim() === '') return;
      const made = ruleFromBuilder({ ...view.value, backupType: kind === 'snapshot' ? null : (view.value.backupType ?? 'incremental') });
      if (made.ok) form.setFieldValue(`schedules.${row}.value`, made.rule);
    });
  }, [kind]);

  const switchTo = (next: Mode) => {
    draftErrors.clear();
    setMode(next);
  };

  return (
    <Stack gap="sm">
      <SegmentedControl
        aria-label="Write the schedule with"
        data={[
          { value: 'builder', label: 'Builder' },
          { value: 'text', label: 'Text' },
        ]}
        value={mode}
        onChange={(next) => switchTo(next === 'text' ? 'text' : 'builder')}
        display="flex"
        maw={240}
      />
      {mode === 'text' ? <TextRules form={form} rowErrors={rowErrors} /> : <BuilderRules form={form} rowErrors={rowErrors} draftErrors={draftErrors} />}
    </Stack>
  );
}

function BuilderRules({ form, rowErrors, draftErrors }: ScheduleRulesInputProps) {
  const { values } = form;
  const addRule = () => form.insertListItem('schedules', line(defaultRule(values.kind)));
  return (
    <Stack gap="sm" role="group" aria-label="Schedule rules">
      {values.schedules.length === 0 && <Text size="sm" c="dimmed">No rule: the policy runs only when started by hand.</Text>}
      {values.schedules.map((item, row) => {
        const view = builderFromRule(item.value, values.kind);
        const title = `Rule ${row + 1}`;
        return (
          <Paper key={`${item.key}:${values.kind}`} withBorder radius="sm" p="sm" role="group" aria-label={title}>
            <Group justify="space-between" mb="xs">
              <Text fw={500} size="sm">
                {title}
              </Text>
              <ActionIcon
                variant="subtle"
                color="gray"
                aria-label={`Remove schedule rule ${row + 1}`}
                onClick={() => {
                  draftErrors.delete(item.key);
                  form.removeListItem('schedules', row);
                }}
              >
                <IconTrash size={16} aria-hidden />
              </ActionIcon>
            </Group>
            {view.ok ? (
              <ScheduleBuilderFields
                number={row + 1}
                kind={values.kind}
                initialRule={item.value}
                serverError={rowErrors.get(row)}
                onChange={(made) => {
                  if ('rule' in made) {
                    draftErrors.delete(item.key);
                    form.setFieldValue(`schedules.${row}.value`, made.rule);
                    form.clearFieldError(`schedules.${row}.value`);
                  } else {
                    draftErrors.set(item.key, made.error);
                  }
                }}
              />
            ) : (
              <Stack gap={6}>
                <TextInput
                  {...form.getInputProps(`schedules.${row}.value`)}
                  error={form.errors[`schedules.${row}.value`] ?? rowErrors.get(row)}
                  aria-label={`Schedule rule ${row + 1}`}
                  autoComplete="off"
                  spellCheck={false}
                  styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
                />
                <Alert color="gray" variant="light" icon={<IconInfoCircle />} p="xs">
                  <Text size="sm">The builder cannot show this rule: {view.reason}. It stays as text; edit it here.</Text>
                </Alert>
              </Stack>
            )}
          </Paper>
        );
      })}
      <Group>
        <Button variant="subtle" size="xs" leftSection={<IconPlus size={14} aria-hidden />} onClick={addRule}>
          Add rule
        </Button>
      </Group>
    </Stack>
  );
}

function TextRules({ form, rowErrors }: Omit<ScheduleRulesInputProps, 'draftErrors'>) {
  const { values } = form;
  const addExample = (rule: string) => {
    const empty = values.schedules.findIndex((item) => item.value.trim() === '');
    if (empty >= 0) form.setFieldValue(`schedules.${empty}.value`, rule);
    else form.insertListItem('schedules', line(rule));
  };
  return (
    <>
      <LineListInput
        form={form}
        path="schedules"
        label="Schedule rules"
        itemLabel={(row) => `Schedule rule ${row + 1}`}
        placeholder={values.kind === 'snapshot' ? 'daily 12:00' : 'incremental mon-fri 22:00'}
        addLabel="Add rule"
        rowErrors={rowErrors}
        emptyText={<Text size="sm" c="dimmed">No rule: the policy runs only when started by hand.</Text>}
      />
      <Stack gap={4}>
        <Text size="xs" c="dimmed">
          Examples (click to use):
        </Text>
        <Group gap={6}>
          {scheduleExamples(values.kind).map((example) => (
            <Tooltip key={example.rule} label={example.meaning}>
              <UnstyledButton onClick={() => addExample(example.rule)} aria-label={`Use example rule ${example.rule}`}>
                <Badge variant="default" tt="none" ff="monospace" style={{ cursor: 'pointer' }}>
                  {example.rule}
                </Badge>
              </UnstyledButton>
            </Tooltip>
          ))}
        </Group>
        <Text size="xs" c="dimmed">
          Days: daily, mon … sun, mon-fri, mon,wed,fri, 1st … 4th or last followed by a day. Times: 22:00, 08:00,18:00 or every 4h 08:00-20:00.
          A run that cannot start within its window (default 4h, or window 1h) is recorded as missed.
        </Text>
      </Stack>
    </>
  );
}
