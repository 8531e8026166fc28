import {
  DEFAULT_HISTORY_LIMITS,
  HISTORY_LIMIT_FIELDS,
  HISTORY_MAXIMUM_DAYS,
  HISTORY_MINIMUM_DAYS,
  type HistoryLimitField,
  type HistoryLimits,
  type HistoryPrune,
  type HistorySettings,
} from '@common/api/index.js';
import { Alert, Button, Checkbox, Grid, Group, NumberInput, Paper, Skeleton, Stack, Text, Title } from '@mantine/core';
import { useForm } from '@mantine/form';
import { notifications } from '@mantine/notifications';
import { IconAlertCircle, IconEraser, IconLock } from '@tabler/icons-react';
import { fieldErrorMessage, isApiError } from '../../api/api-error.js';
import { useCatalogSizeQuery, useHistorySettingsQuery, usePruneHistoryMutation, useSaveHistoryLimitsMutation } from '../../api/history.queries.js';
import { useSession } from '../../auth/session-context.js';
import { FormError } from '../../components/form-error.js';
import { QueryErrorAlert } from '../../components/query-error-alert.js';
import { SaveDiscardButtons } from '../../components/save-discard-buttons.js';
import { formatBytes, formatDateTime } from '../../utils/format.js';
import { CatalogSizeTable } from './catalog-size-table.js';

const LABELS: Record<HistoryLimitField, { label: string; description: string }> = {
  taskLogsDays: { label: 'Task logs', description: 'The log lines of a task that ended. The task itself stays, as long as the limits below say.' },
  workflowsDays: { label: 'Jobs', description: 'Backups, restores and the other jobs of several steps, with their tasks and logs.' },
  tasksDays: { label: 'Other tasks', description: 'Tasks outside a job: node checks, installs, inventory syncs, verify, prune, GC, mounts.' },
  policyRunsDays: { label: 'Policy runs', description: 'Runs and missed runs of the policies; a run stays while one of its jobs does.' },
  auditDays: { label: 'Audit entries', description: 'Who changed what, and when.' },
};

type FormValues = Record<HistoryLimitField, { days: number | string; forever: boolean }>;

/** A limit kept for ever shows the default in its (disabled) field, for when it is unticked. */
const toForm = (limits: HistoryLimits): FormValues =>
  Object.fromEntries(HISTORY_LIMIT_FIELDS.map((f) => [f, { days: limits[f] ?? DEFAULT_HISTORY_LIMITS[f] ?? HISTORY_MINIMUM_DAYS[f], forever: limits[f] === null }])) as FormValues;
const toLimits = (values: FormValues): HistoryLimits =>
  Object.fromEntries(HISTORY_LIMIT_FIELDS.map((f) => [f, values[f].forever ? null : Number(values[f].days)])) as HistoryLimits;

function validateDays(field: HistoryLimitField, value: FormValues[HistoryLimitField]): string | null {
  if (value.forever) return null;
  const days = Number(value.days);
  if (value.days === '' || !Number.isInteger(days)) return 'Enter a whole number of days';
  if (days < HISTORY_MINIMUM_DAYS[field]) return `At least ${HISTORY_MINIMUM_DAYS[field]} days`;
  if (days > HISTORY_MAXIMUM_DAYS) return `At most ${HISTORY_MAXIMUM_DAYS} days`;
  return null;
}

/** Settings → History: how long finished work is kept, pruning now, and what the catalog takes. Administrators only, like the server says. */
export function HistoryPanel() {
  const { isAdmin } = useSession();
  const settings = useHistorySettingsQuery(isAdmin);

  if (!isAdmin || isApiError(settings.error, 403)) {
    return (
      <Alert color="gray" icon={<IconLock />} title="Only administrators can see and change how long history is kept">
        The dashboard shows how big the catalog is.
      </Alert>
    );
  }
  if (settings.isPending) return <Skeleton h={420} radius="md" />;
  if (settings.isError) return <QueryErrorAlert title="Could not load the history settings" error={settings.error} onRetry={() => void settings.refetch()} />;
  return (
    <Stack maw={960}>
      <HistoryLimitsForm saved={settings.data.limits} />
      <PruneSection settings={settings.data} />
      <CatalogSizeSection />
    </Stack>
  );
}

function HistoryLimitsForm({ saved }: { saved: HistoryLimits }) {
  const save = useSaveHistoryLimitsMutation();
  const form = useForm<FormValues>({
    mode: 'controlled',
    initialValues: toForm(saved),
    validate: (values) => {
      const errors: Partial<Record<HistoryLimitField, string>> = {};
      for (const f of HISTORY_LIMIT_FIELDS) {
        const error = validateDays(f, values[f]);
        if (error !== null) errors[f] = error;
      }
      return errors;
    },
  });
  const submit = form.onSubmit((values) =>
    save.mutate(toLimits(values), {
      onSuccess: (next) => {
        const fresh = toForm(next.limits);
        form.setInitialValues(fresh);
        form.setValues(fresh);
        form.resetDirty(fresh);
        notifications.show({ color: 'green', message: 'History limits saved; the next prune keeps to them.' });
      },
      onError: (error) => {
        const field = isApiError(error) ? HISTORY_LIMIT_FIELDS.find((f) => f === error.field) : undefined;
        if (field !== undefined) form.setFieldError(field, fieldErrorMessage(error, field));
      },
    }),
  );
  const dirty = form.isDirty();
  const refused = save.error;
  const fieldError = isApiError(refused) && HISTORY_LIMIT_FIELDS.some((f) => f === refused.field);

  return (
    <form onSubmit={submit} noValidate aria-label="History limits">
      <Paper withBorder radius="md" p="md">
        <Stack>
          <Title order={2} size="h4">
            How long history is kept
          </Title>
          <Text size="sm" c="dimmed">
            Finished work older than this is removed once a day, a little at a time, by the server that runs the schedules. Backups and what they need are
            kept for ever; nothing queued or running is ever removed.
          </Text>
          {HISTORY_LIMIT_FIELDS.map((field) => {
            const forever = form.values[field].forever;
            const error = form.errors[field] ?? form.errors[`${field}.days`];
            return (
              <Grid key={field} align="flex-end">
                <Grid.Col span={{ base: 12, sm: 5 }}>
                  <NumberInput
                    label={LABELS[field].label}
                    description={LABELS[field].description}
                    suffix=" days"
                    min={HISTORY_MINIMUM_DAYS[field]}
                    max={HISTORY_MAXIMUM_DAYS}
                    allowDecimal={false}
                    allowNegative={false}
                    // Say why a number is refused rather than change it behind the admin's back.
                    clampBehavior="none"
                    disabled={forever}
                    value={forever ? '' : form.values[field].days}
                    onChange={(value) => form.setFieldValue(`${field}.days`, value)}
                    error={error}
                  />
                </Grid.Col>
                <Grid.Col span={{ base: 12, sm: 7 }}>
                  <Checkbox
                    label={`Keep ${LABELS[field].label.toLowerCase()} for ever`}
                    checked={forever}
                    onChange={(event) => form.setFieldValue(`${field}.forever`, event.currentTarget.checked)}
                    mb={8}
                  />
                </Grid.Col>
              </Grid>
            );
          })}
          <FormError error={fieldError ? null : save.error} />
          <SaveDiscardButtons
            dirty={dirty}
            saving={save.isPending}
            onDiscard={() => {
              save.reset();
              form.reset();
            }}
          />
        </Stack>
      </Paper>
    </form>
  );
}

function removedText(p: HistoryPrune): string {
  const r = p.removed;
  return `${r.taskLogs.toLocaleString()} log lines, ${r.tasks.toLocaleString()} tasks, ${r.workflows.toLocaleString()} jobs, ${r.policyRuns.toLocaleString()} policy runs and ${r.audit.toLocaleString()} audit entries`;
}

function PruneSection({ settings }: { settings: HistorySettings }) {
  const prune = usePruneHistoryMutation();
  const last = settings.lastPrune;
  return (
    <Paper withBorder radius="md" p="md" component="section" aria-labelledby="prune-heading">
      <Stack>
        <Group justify="space-between">
          <Title order={2} size="h4" id="prune-heading">
            Pruning
          </Title>
          <Button variant="default" leftSection={<IconEraser size={16} aria-hidden />} loading={prune.isPending} disabled={settings.pruning} onClick={() => prune.mutate()}>
            Prune now
          </Button>
        </Group>
        <div aria-live="polite" data-testid="prune-status">
          {settings.pruning && last !== null && <Text size="sm">{`Pruning since ${formatDateTime(last.startedAt)}: removed ${removedText(last)} so far.`}</Text>}
          {!settings.pruning && last === null && <Text size="sm">The history has not been pruned yet.</Text>}
          {!settings.pruning && last !== null && (
            <Text size="sm">{`Last pruned ${formatDateTime(last.finishedAt ?? last.startedAt)} (${last.by === 'system' ? 'daily' : `by ${last.by}`}): removed ${removedText(last)}.`}</Text>
          )}
        </div>
        {!settings.pruning && last?.error && (
          <Alert color="yellow" icon={<IconAlertCircle />} title="The last prune stopped short">
            {`${last.error}. The next prune goes on from where it is.`}
          </Alert>
        )}
        {settings.nextPruneAt !== null && (
          <Text size="sm" c="dimmed">
            {`Next daily prune: ${formatDateTime(settings.nextPruneAt)}.`}
          </Text>
        )}
      </Stack>
    </Paper>
  );
}

function CatalogSizeSection() {
  const size = useCatalogSizeQuery();
  return (
    <Paper withBorder radius="md" p="md" component="section" aria-labelledby="catalog-size-settings-heading">
      <Title order={2} size="h4" mb="sm" id="catalog-size-settings-heading">
        {size.data ? `Catalog size: ${formatBytes(size.data.totalBytes)}` : 'Catalog size'}
      </Title>
      {size.isPending && <Skeleton h={160} />}
      {size.isError && <QueryErrorAlert title="Could not read the catalog's size" error={size.error} onRetry={() => void size.refetch()} />}
      {size.data && <CatalogSizeTable size={size.data} />}
    </Paper>
  );
}
