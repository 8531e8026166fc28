import { builderFromRule, BUILDER_WINDOWS, defaultBuilderValue, ruleFromBuilder, type ScheduleBuilderValue } from '@common/schedule-builder.js';
import type { Weekday } from '@common/schedule.js';
import { ActionIcon, Button, Chip, Code, Group, Input, NumberInput, SegmentedControl, Select, Stack, Text, TextInput } from '@mantine/core';
import { IconPlus, IconX } from '@tabler/icons-react';
import { useState } from 'react';

const DAYS: readonly { day: Weekday; short: string; long: string }[] = [
  { day: 1, short: 'Mon', long: 'Monday' },
  { day: 2, short: 'Tue', long: 'Tuesday' },
  { day: 3, short: 'Wed', long: 'Wednesday' },
  { day: 4, short: 'Thu', long: 'Thursday' },
  { day: 5, short: 'Fri', long: 'Friday' },
  { day: 6, short: 'Sat', long: 'Saturday' },
  { day: 7, short: 'Sun', long: 'Sunday' },
];
const PRESETS: readonly { label: string; days: Weekday[] }[] = [
  { label: 'Weekdays', days: [1, 2, 3, 4, 5] },
  { label: 'Weekend', days: [6, 7] },
  { label: 'Every day', days: [1, 2, 3, 4, 5, 6, 7] },
];

const windowLabel = (minutes: number): string => (minutes < 60 ? `${minutes} minutes` : minutes === 1440 ? '1 day' : `${minutes / 60} ${minutes === 60 ? 'hour' : 'hours'}`);
const WINDOW_OPTIONS = [{ value: 'default', label: 'Default (4 hours, or the interval)' }, ...BUILDER_WINDOWS.map((m) => ({ value: String(m), label: windowLabel(m) }))];

interface ScheduleBuilderFieldsProps {
  /** 1-based, for the accessible names: "Days, rule 1". */
  number: number;
  kind: 'backup' | 'snapshot' | 'm365';
  /** The rule text it starts from (the builder can show it). */
  initialRule: string;
  /** Called with the rule text the choices make; with an error while they make none. */
  onChange: (result: { rule: string } | { error: string }) => void;
  /** A problem the server found in the rule. */
  serverError?: string | undefined;
}

/**
 * One schedule rule as choices: full or incremental, days of the week, set times or every N
 * hours in a range, and how late a run may start. It writes the same text as the text form.
 */
export function ScheduleBuilderFields({ number, kind, initialRule, onChange, serverError }: ScheduleBuilderFieldsProps) {
  const [value, setValue] = useState<ScheduleBuilderValue>(() => {
    const view = builderFromRule(initialRule, kind);
    return view.ok ? view.value : defaultBuilderValue(kind);
  });
  const result = ruleFromBuilder(value);
  const change = (patch: Partial<ScheduleBuilderValue>) => {
    const next = { ...value, ...patch };
    setValue(next);
    const made = ruleFromBuilder(next);
    onChange(made.ok ? { rule: made.rule } : { error: made.message });
  };
  const errorOf = (field: 'weekdays' | 'times' | 'interval'): string | undefined => (!result.ok && result.field === field ? result.message : undefined);
  const of = `rule ${number}`;

  return (
    <Stack gap="sm">
      {kind === 'backup' && (
        <Input.Wrapper label="Backup type" labelElement="div" labelProps={{ id: `builder-type-${number}` }}>
          <SegmentedControl
            aria-labelledby={`builder-type-${number}`}
            aria-label={`Backup type, ${of}`}
            data={[
              { value: 'incremental', label: 'Incremental' },
              { value: 'full', label: 'Full' },
            ]}
            value={value.backupType ?? 'incremental'}
            onChange={(type) => change({ backupType: type === 'full' ? 'full' : 'incremental' })}
            display="flex"
            maw={280}
            mt={4}
          />
        </Input.Wrapper>
      )}
      <Input.Wrapper label="Days" labelElement="div" error={errorOf('weekdays')} role="group" aria-label={`Days, ${of}`}>
        <Group gap={6} mt={4}>
          {DAYS.map(({ day, short, long }) => (
            <Chip
              key={day}
              size="sm"
              checked={value.weekdays.includes(day)}
              onChange={(checked) => change({ weekdays: checked ? [...value.weekdays, day] : value.weekdays.filter((d) => d !== day) })}
              aria-label={long}
            >
              {short}
            </Chip>
          ))}
        </Group>
        <Group gap={4} mt={6}>
          {PRESETS.map((preset) => (
            <Button key={preset.label} variant="subtle" size="compact-xs" onClick={() => change({ weekdays: preset.days })}>
              {preset.label}
            </Button>
          ))}
        </Group>
      </Input.Wrapper>
      <Input.Wrapper label="Runs" labelElement="div" labelProps={{ id: `builder-mode-${number}` }}>
        <SegmentedControl
          aria-labelledby={`builder-mode-${number}`}
          data={[
            { value: 'times', label: 'At set times' },
            { value: 'interval', label: 'Every few hours' },
          ]}
          value={value.mode}
          onChange={(mode) => change({ mode: mode === 'interval' ? 'interval' : 'times' })}
          display="flex"
          maw={320}
          mt={4}
        />
      </Input.Wrapper>
      {value.mode === 'times' ? (
        <Input.Wrapper label="Times" labelElement="div" description="24-hour clock, in the policy's time zone" error={errorOf('times')}>
          <Group gap="xs" mt={4} align="flex-start">
            {value.times.map((time, index) => (
              <Group key={index} gap={2} wrap="nowrap">
                <TextInput type="time" aria-label={`Time ${index + 1}, ${of}`} value={time} onChange={(event) => change({ times: value.times.map((t, i) => (i === index ? event.currentTarget.value : t)) })} w={130} />
                {value.times.length > 1 && (
                  <ActionIcon variant="subtle" color="gray" aria-label={`Remove time ${index + 1}, ${of}`} onClick={() => change({ times: value.times.filter((_, i) => i !== index) })}>
                    <IconX size={14} aria-hidden />
                  </ActionIcon>
                )}
              </Group>
            ))}
            <Button variant="subtle" size="xs" leftSection={<IconPlus size={14} aria-hidden />} onClick={() => change({ times: [...value.times, '12:00'] })}>
              Add a time
            </Button>
          </Group>
        </Input.Wrapper>
      ) : (
        <Input.Wrapper labelElement="div" error={errorOf('interval')}>
          <Group gap="xs" align="flex-end">
            <NumberInput label="Every (hours)" aria-label={`Every how many hours, ${of}`} min={1} max={24} allowDecimal={false} allowNegative={false} value={value.everyHours} onChange={(hours) => change({ everyHours: typeof hours === 'number' ? hours : 0 })} w={120} />
            <TextInput type="time" label="From" aria-label={`From, ${of}`} value={value.from} onChange={(event) => change({ from: event.currentTarget.value })} w={130} />
            <TextInput type="time" label="To" aria-label={`To, ${of}`} value={value.to} onChange={(event) => change({ to: event.currentTarget.value })} w={130} />
          </Group>
        </Input.Wrapper>
      )}
      <Select
        label="Must start within"
        description="A run that cannot start this long after its time is recorded as missed"
        aria-label={`Must start within, ${of}`}
        data={WINDOW_OPTIONS}
        value={value.windowMinutes === null ? 'default' : String(value.windowMinutes)}
        onChange={(choice) => change({ windowMinutes: choice === null || choice === 'default' ? null : Number(choice) })}
        allowDeselect={false}
        maw={320}
      />
      <Text size="sm" c={serverError !== undefined ? 'red' : 'dimmed'} data-testid={`builder-rule-${number}`}>
        Rule: <Code>{result.ok ? result.rule : '—'}</Code>
        {serverError !== undefined && ` · ${serverError}`}
      </Text>
    </Stack>
  );
}
