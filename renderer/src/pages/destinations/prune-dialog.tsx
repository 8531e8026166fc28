import { PruneResultSchema, type Destination, type Retention } from '@common/api/index.js';
import { Alert, Button, Group, Modal, NumberInput, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { IconAlertTriangle, IconInfoCircle } from '@tabler/icons-react';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { DialogActions } from '../../components/dialog-actions.js';
import { FormError } from '../../components/form-error.js';
import { TaskFollow } from '../../components/tasks/task-follow.js';
import { PruneResultView } from './task-results.js';
import { useDestinationTask } from './use-destination-task.js';

const RULES = [
  { key: 'keepLast', label: 'Keep last', description: 'The newest N backups of each VM' },
  { key: 'daily', label: 'Daily', description: 'The last backup of each of N days' },
  { key: 'weekly', label: 'Weekly', description: 'The last backup of each of N weeks' },
  { key: 'monthly', label: 'Monthly', description: 'The last backup of each of N months' },
  { key: 'yearly', label: 'Yearly', description: 'The last backup of each of N years' },
  { key: 'maxAgeDays', label: 'Max age (days)', description: 'Remove anything older, whatever the other rules keep' },
] as const satisfies ReadonlyArray<{ key: keyof Retention; label: string; description: string }>;

type RuleKey = (typeof RULES)[number]['key'];
type RuleValues = Record<RuleKey, string | number>;

const INITIAL: RuleValues = { keepLast: '', daily: 7, weekly: 4, monthly: 12, yearly: '', maxAgeDays: '' };

/** Empty fields are left out; what is left must name at least one rule. */
export function toRetention(values: RuleValues): Retention | null {
  const retention: Retention = {};
  for (const { key } of RULES) {
    const raw = values[key];
    if (raw === '') continue;
    const number = typeof raw === 'number' ? raw : Number.parseInt(raw, 10);
    if (!Number.isInteger(number)) continue;
    retention[key] = number;
  }
  return Object.keys(retention).length === 0 ? null : retention;
}

/**
 * Retention with a preview first: "Preview" runs the prune as a dry run and lists what would go
 * and why the rest stays; "Prune now" (after a confirm) removes exactly under those rules.
 */
export function PruneDialog({ destination, onClose }: { destination: Destination; onClose: () => void }) {
  const preview = useDestinationTask(destination);
  const prune = useDestinationTask(destination);
  const [values, setValues] = useState<RuleValues>(INITIAL);
  const [previewed, setPreviewed] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [formError, setFormError] = useState<string | null>(null);
  // The confirm appears below a long preview: focus brings it (and its button) into view.
  const confirmButton = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (confirming) confirmButton.current?.focus();
  }, [confirming]);

  const retention = toRetention(values);
  const rulesKey = JSON.stringify(retention);
  const changedSincePreview = previewed !== null && previewed !== rulesKey;
  const pruneStarted = prune.taskId !== null || prune.starting;
  const previewResult = PruneResultSchema.safeParse(preview.task?.result);
  const wouldRemove = previewResult.success && previewResult.data.dryRun ? previewResult.data.removed.length : null;
  const canPrune = preview.succeeded && wouldRemove !== null && !changedSincePreview && !pruneStarted;
  const locked = preview.running || preview.starting || pruneStarted;

  const setRule = (key: RuleKey, value: string | number) => {
    setValues((old) => ({ ...old, [key]: value }));
    setConfirming(false);
  };

  const runPreview = (event: FormEvent) => {
    event.preventDefault();
    if (retention === null) {
      setFormError('Give at least one rule.');
      return;
    }
    setFormError(null);
    setConfirming(false);
    preview.reset();
    setPreviewed(rulesKey);
    preview.start({ action: 'prune', body: { retention, dryRun: true } });
  };

  const pruneNow = () => {
    if (retention === null || !canPrune) return;
    setConfirming(false);
    prune.start({ action: 'prune', body: { retention, dryRun: false } });
  };

  return (
    <Modal opened onClose={onClose} title={`Prune ${destination.name}`} size="xl">
      <form onSubmit={runPreview} noValidate>
        <Stack>
          <Text size="sm">
            Removes the backups these rules do not keep. A backup kept by any rule stays. Preview first: it lists what would be removed, and
            why each other backup is kept, without removing anything.
          </Text>
          <SimpleGrid cols={{ base: 2, sm: 3 }}>
            {RULES.map((rule) => (
              <NumberInput
                key={rule.key}
                label={rule.label}
                description={rule.description}
                placeholder="—"
                min={rule.key === 'maxAgeDays' ? 1 : 0}
                max={rule.key === 'maxAgeDays' ? 100_000 : 10_000}
                allowDecimal={false}
                allowNegative={false}
                value={values[rule.key]}
                onChange={(value) => setRule(rule.key, value)}
                disabled={locked}
              />
            ))}
          </SimpleGrid>
          {formError !== null && (
            <Text size="sm" c="red" role="alert">
              {formError}
            </Text>
          )}
          <FormError error={preview.error ?? prune.error} />

          {preview.taskId !== null && prune.taskId === null && (
            <Stack gap="xs">
              <Title order={2} size="h5">
                Preview
              </Title>
              <TaskFollow
                taskId={preview.taskId}
                label="Preview"
                errorTitle="The preview failed"
                logHeight={120}
                renderResult={(done) => <PruneResultView result={done.result} />}
              />
            </Stack>
          )}
          {changedSincePreview && !pruneStarted && (
            <Alert color="gray" variant="light" icon={<IconInfoCircle />}>
              The rules changed since the preview. Preview again before pruning.
            </Alert>
          )}

          {confirming && canPrune && (
            <Alert color="red" variant="light" icon={<IconAlertTriangle />} title={`Remove ${wouldRemove} ${wouldRemove === 1 ? 'backup' : 'backups'} from ${destination.name}?`} role="alertdialog">
              <Stack gap="sm">
                <Text size="sm">
                  {wouldRemove === 0
                    ? 'The preview removed nothing; pruning now only removes backups that became due since.'
                    : 'Removed backups cannot be restored. Their space is freed by the next garbage collection.'}
                </Text>
                <Group justify="flex-end">
                  <Button variant="default" size="xs" onClick={() => setConfirming(false)}>
                    Cancel
                  </Button>
                  <Button color="red" size="xs" onClick={pruneNow} ref={confirmButton}>
                    Confirm prune
                  </Button>
                </Group>
              </Stack>
            </Alert>
          )}

          {prune.taskId !== null && (
            <Stack gap="xs">
              <Title order={2} size="h5">
                Prune
              </Title>
              <TaskFollow
                taskId={prune.taskId}
                label="Prune"
                errorTitle="The prune failed"
                logHeight={120}
                renderResult={(done) => <PruneResultView result={done.result} />}
              />
            </Stack>
          )}

          <DialogActions>
            <Button variant="default" onClick={onClose}>
              Close
            </Button>
            {!pruneStarted && (
              <>
                <Button type="submit" variant="light" loading={preview.starting || preview.running}>
                  Preview
                </Button>
                <Button
                  color="red"
                  // aria-disabled keeps it focusable, with the reason in its description.
                  aria-disabled={!canPrune}
                  data-disabled={!canPrune || undefined}
                  aria-description={canPrune ? undefined : 'Run a preview of these rules first'}
                  title={canPrune ? undefined : 'Run a preview of these rules first'}
                  onClick={canPrune ? () => setConfirming(true) : undefined}
                >
                  Prune now
                </Button>
              </>
            )}
          </DialogActions>
        </Stack>
      </form>
    </Modal>
  );
}
