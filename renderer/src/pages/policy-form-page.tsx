import type { Policy, PolicyKind } from '@common/api/index.js';
import {
  Alert,
  Anchor,
  Button,
  Checkbox,
  Grid,
  Group,
  Input,
  NumberInput,
  SegmentedControl,
  Select,
  SimpleGrid,
  Skeleton,
  Stack,
  Switch,
  Text,
  TextInput,
} from '@mantine/core';
import { useForm } from '@mantine/form';
import { useDebouncedValue } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { IconAlertCircle, IconDatabaseOff, IconLock } from '@tabler/icons-react';
import { useEffect, useMemo, useRef, useState } from 'react';
import { Link, useLocation, useNavigate, useParams } from 'react-router-dom';
import { refusedVm, vmChange } from '@common/policy-vm-choices.js';
import { errorMessage, fieldErrorMessage, isApiError } from '../api/api-error.js';
import { useDestinationsQuery } from '../api/destinations.queries.js';
import {
  useChangePolicyVmsMutation,
  useCreatePolicyMutation,
  usePolicyPreviewQuery,
  usePolicyQuery,
  useUpdatePolicyMutation,
  type PolicyPreviewRequest,
} from '../api/policies.queries.js';
import { useSession } from '../auth/session-context.js';
import { BackLink } from '../components/back-link.js';
import { FormError } from '../components/form-error.js';
import { NotFoundState } from '../components/not-found-state.js';
import { PageHeader } from '../components/page-header.js';
import { QueryErrorAlert } from '../components/query-error-alert.js';
import { knownTimeZones } from '../utils/policy-format.js';
import { ScheduleInput } from './policies/schedule-input.js';
import { ScheduleRulesInput } from './policies/schedule-rules-input.js';
import { VerifyFields } from './policies/verify-fields.js';
import {
  createRequest,
  formFieldOf,
  newPolicyValues,
  policyValues,
  previewRequest,
  retentionOf,
  updateRequest,
  validatePolicyForm,
  type PolicyFormValues,
} from './policies/policy-form-model.js';
import { MatchingVmsPreview, NextRunsPreview, PreviewError, RetentionPreview } from './policies/policy-previews.js';
import { M365MembersSection, VmMembersSection } from './policies/policy-members-sections.js';
import { Section } from './policies/policy-section.js';

const PREVIEW_DELAY_MS = 400;

/** A 0 is refused under the field (not clamped to 1 behind the admin's back): leaving a rule empty is how it is not used. */
const RULE_INPUT = { min: 1, allowDecimal: false, allowNegative: false, clampBehavior: 'none' } as const;

/** /policies/new and /policies/:policy/edit. */

export function PolicyFormPage() {
  const ref = useParams().policy;
  const { isAdmin } = useSession();
  if (!isAdmin) {
    return (
      <>
        <BackLink to={ref === undefined ? '/policies' : `/policies/${encodeURIComponent(ref)}`} label={ref === undefined ? 'All policies' : 'Back to the policy'} />
        <PageHeader title={ref === undefined ? 'Create policy' : 'Edit policy'} />
        <Alert color="gray" icon={<IconLock />} title="Only administrators create and change policies">
          You can see every policy and its runs; ask an administrator to change one.
        </Alert>
      </>
    );
  }
  return ref === undefined ? <PolicyForm policy={undefined} /> : <EditPolicy ref_={ref} />;
}

function EditPolicy({ ref_ }: { ref_: string }) {
  const policy = usePolicyQuery(ref_);
  if (isApiError(policy.error, 404)) {
    return (
      <NotFoundState
        pageTitle="Policy not found"
        title={`There is no policy "${ref_}"`}
        description="It may have been removed, or the link is wrong."
        back={{ to: '/policies', label: 'All policies' }}
        goTo={{ to: '/policies', label: 'Go to policies' }}
      />
    );
  }
  // Placeholder data from the list is enough to show the form, but it must start from the real thing.
  if (policy.data === undefined || policy.isPlaceholderData) {
    if (policy.isError) return <QueryErrorAlert title="Could not load the policy" error={policy.error} onRetry={() => void policy.refetch()} />;
    return <Skeleton h={480} radius="md" aria-label="Loading the policy" />;
  }
  // Live updates of the policy (a run, a VM assigned) must not reset what is being typed.
  return <PolicyForm key={policy.data.id} policy={policy.data} />;
}

/**
 * The checklist's VMs were refused after the policy itself was saved: the form stays (a new
 * policy opens in its edit form) with the server's reason, and what was ticked stays ticked.
 */
interface VmsRefusal {
  /** The policy was just created (its VMs are the only part missing). */
  created: boolean;
  message: string;
  /** The VM the refusal names, if it names one. */
  vmId: number | null;
  ticked: number[];
}

/** A refusal handed from the create form to the edit form it opens, in the history entry's state. */
function refusalOf(state: unknown): VmsRefusal | null {
  const refusal = (state as { vmsRefusal?: VmsRefusal } | null)?.vmsRefusal;
  return refusal !== undefined && Array.isArray(refusal.ticked) ? refusal : null;
}

/**
 * Which rows hold the schedule rules the preview could not read, matched by text so a stale
 * answer never marks a changed rule (nor one read for the other kind of policy).
 */
function scheduleRowErrors(values: PolicyFormValues, request: PolicyPreviewRequest | undefined, errors: readonly { index: number; message: string }[]): Map<number, string> {
  const byRow = new Map<number, string>();
  if (request?.kind !== undefined && request.kind !== values.kind) return byRow;
  for (const error of errors) {
    const spec = request?.schedules?.[error.index];
    if (spec === undefined) continue;
    // The server quotes the rule first; under the rule itself that is repetition.
    const message = error.message.replace(`schedule "${spec}": `, '');
    values.schedules.forEach((item, row) => {
      if (item.value.trim() === spec && !byRow.has(row)) byRow.set(row, message);
    });
  }
  return byRow;
}

/** The builder's unfinished rules, as errors on their rows. */
function draftFieldErrors(values: PolicyFormValues, drafts: ReadonlyMap<string, string>): Record<string, string> {
  const errors: Record<string, string> = {};
  values.schedules.forEach((item, row) => {
    const draft = drafts.get(item.key);
    if (draft !== undefined) errors[`schedules.${row}.value`] = draft;
  });
  return errors;
}

function PolicyForm({ policy }: { policy: Policy | undefined }) {
  const navigate = useNavigate();
  const location = useLocation();
  const destinations = useDestinationsQuery();
  const create = useCreatePolicyMutation();
  const update = useUpdatePolicyMutation();
  const changeVms = useChangePolicyVmsMutation();
  const save = policy === undefined ? create : update;
  const draftErrors = useRef(new Map<string, string>());
  const [vmsRefusal, setVmsRefusal] = useState<VmsRefusal | null>(() => (policy === undefined ? null : refusalOf(location.state)));
  // The VMs in the policy by hand as the form opened: unticking one of these takes it out.
  const [initiallyManual] = useState(() => (policy === undefined ? [] : policyValues(policy).manualVms));
  const [initialValues] = useState(() => {
    if (policy === undefined) return newPolicyValues();
    const values = policyValues(policy);
    return vmsRefusal === null ? values : { ...values, manualVms: [...new Set([...values.manualVms, ...vmsRefusal.ticked])] };
  });
  useEffect(() => {
    // Read once: a reload of the edit form must not show the refusal again.
    if (refusalOf(location.state) !== null) void navigate(location.pathname, { replace: true, state: null });
  }, []);
  const form = useForm<PolicyFormValues>({
    mode: 'controlled',
    initialValues,
    // The builder's unfinished choices (no day chosen, …) keep the form from saving an older rule.
    validate: (values) => ({ ...validatePolicyForm(values), ...draftFieldErrors(values, draftErrors.current) }),
  });
  const { values } = form;
  const snapshots = values.kind === 'snapshot';
  const m365 = values.kind === 'm365';

  // One destination: it is the only choice, so choose it (new policies only).
  const onlyDestination = destinations.data?.length === 1 ? String(destinations.data[0]?.id) : null;
  const destinationChosen = values.destination !== null;
  useEffect(() => {
    if (policy === undefined && onlyDestination !== null && !destinationChosen) form.setFieldValue('destination', onlyDestination);
    // Only when the choice appears: it must not fight the user's own choice.
  }, [onlyDestination]);

  // Debounced as text: an object would be new on every render and restart the timer for ever.
  const [debounced] = useDebouncedValue(JSON.stringify(previewRequest(values, policy?.id)), PREVIEW_DELAY_MS);
  const request = useMemo(() => JSON.parse(debounced) as PolicyPreviewRequest, [debounced]);
  const preview = usePolicyPreviewQuery(request);
  const answer = preview.data;
  const scheduleErrors = scheduleRowErrors(values, answer?.request, answer?.preview.scheduleErrors ?? []);
  const previewFieldError = isApiError(preview.error) && preview.error.field === 'timeZone' ? preview.error.message : null;

  const destinationName = destinations.data?.find((destination) => String(destination.id) === values.destination)?.name ?? policy?.destination ?? null;
  const showRetentionPreview = values.kind === 'backup' && (policy !== undefined || (values.destination !== null && retentionOf(values) !== undefined));

  const timeZones = useMemo(() => {
    const zones = knownTimeZones();
    return values.timeZone !== null && !zones.includes(values.timeZone) ? [values.timeZone, ...zones] : zones;
  }, [values.timeZone]);

  const refusedField = isApiError(save.error) ? formFieldOf(save.error.field, values) : null;
  const submit = form.onSubmit((submitted) => {
    setVmsRefusal(null);
    const onError = (error: Error) => {
      const field = isApiError(error) ? formFieldOf(error.field, submitted) : null;
      if (field !== null) form.setFieldError(field, fieldErrorMessage(error, field));
    };
    const done = (saved: Policy) => {
      notifications.show({ color: 'green', message: policy === undefined ? `Policy ${saved.name} created.` : `Policy ${saved.name} saved.` });
      void navigate(`/policies/${saved.id}`);
    };
    // Then the checklist, against the policy as just saved: only what was changed in the form.
    const onSuccess = (saved: Policy) => {
      const change = vmChange(submitted.manualVms, initiallyManual, saved.vms);
      if (change.assign.length === 0 && change.unassign.length === 0) return done(saved);
      changeVms.mutate(
        { id: saved.id, ...change },
        {
          onSuccess: done,
          onError: (error) => {
            const field = isApiError(error) ? error.field : undefined;
            const refusal: VmsRefusal = { created: policy === undefined, message: fieldErrorMessage(error, field ?? ''), vmId: refusedVm(field, change) ?? null, ticked: submitted.manualVms };
            if (policy !== undefined) return setVmsRefusal(refusal);
            // The policy exists now: it opens in its edit form, where saving again adds the VMs.
            notifications.show({ color: 'yellow', message: `Policy ${saved.name} created, without its VMs: ${errorMessage(error)}` });
            void navigate(`/policies/${saved.id}/edit`, { replace: true, state: { vmsRefusal: refusal } });
          },
        },
      );
    };
    if (policy === undefined) create.mutate(createRequest(submitted), { onSuccess, onError });
    else update.mutate({ id: policy.id, change: updateRequest(submitted) }, { onSuccess, onError });
  });

  const noDestinations = !snapshots && destinations.isSuccess && destinations.data.length === 0;
  const chooseKind = (kind: PolicyKind) => {
    form.setFieldValue('kind', kind);
    // Errors about fields the other kind does not have would stay on screen, or block the submit.
    form.clearErrors();
  };
  const backTo = policy === undefined ? '/policies' : `/policies/${policy.id}`;

  return (
    <>
      <BackLink to={backTo} label={policy === undefined ? 'All policies' : `Back to ${policy.name}`} />
      <PageHeader
        title={policy === undefined ? 'Create policy' : `Edit policy ${policy.name}`}
        description={
          snapshots
            ? 'The previews on the right follow what you type: when the policy runs and which VMs it takes in.'
            : 'The previews on the right follow what you type: when the policy runs, which VMs it takes in, which backups it keeps.'
        }
      />
      <form onSubmit={submit} noValidate aria-label={policy === undefined ? 'New policy' : `Policy ${policy.name}`}>
        <Grid gap="md" align="flex-start">
          <Grid.Col span={{ base: 12, lg: 7 }}>
            <Stack>
              <FormError error={refusedField === null ? save.error : null} />
              {vmsRefusal !== null && <VmsRefusalAlert refusal={vmsRefusal} policyName={policy?.name ?? values.name} />}
              <Section title="General">
                <Input.Wrapper
                  label="Kind"
                  labelElement="div"
                  labelProps={{ id: 'policy-kind-label' }}
                  description={
                    policy !== undefined
                      ? 'A policy stays the kind it was created as.'
                      : snapshots
                        ? 'Takes snapshots of its VMs on their hosts (libvirt, inside the qcow2 disks) and keeps the last few of each.'
                        : m365
                          ? 'Backs Microsoft 365 users (their OneDrive) and sites (their libraries) up to a destination, chosen by name at each run.'
                          : 'Backs its VMs up to a destination and keeps backups by its retention rules.'
                  }
                >
                  <SegmentedControl
                    aria-labelledby="policy-kind-label"
                    data={[
                      { value: 'backup', label: 'Backup' },
                      { value: 'snapshot', label: 'Snapshot' },
                      { value: 'm365', label: 'Microsoft 365' },
                    ]}
                    value={values.kind}
                    onChange={(value) => chooseKind(value === 'snapshot' || value === 'm365' ? value : 'backup')}
                    disabled={policy !== undefined}
                    mt={4}
                    display="flex"
                    maw={420}
                  />
                </Input.Wrapper>
                <TextInput label="Name" description="How VMs, runs and the CLI refer to it, e.g. nightly-prod" autoComplete="off" data-autofocus {...form.getInputProps('name')} />
                {noDestinations && (
                  <Alert color="yellow" icon={<IconDatabaseOff />} title="No destination yet">
                    Backups are stored in a destination. <Anchor component={Link} to="/destinations">Add a destination</Anchor> first.
                  </Alert>
                )}
                {!snapshots && (
                  <Select
                    label="Destination"
                    description="Where the policy stores its backups"
                    placeholder={destinations.isPending ? 'Loading destinations…' : 'Choose a destination'}
                    data={(destinations.data ?? []).map((destination) => ({ value: String(destination.id), label: `${destination.name} (on ${destination.node})` }))}
                    allowDeselect={false}
                    searchable
                    nothingFoundMessage="No destination with that name"
                    {...form.getInputProps('destination')}
                  />
                )}
                <SimpleGrid cols={{ base: 1, sm: 2 }}>
                  <NumberInput
                    label="Priority"
                    description="0–100. A VM several policies match goes to the highest; their backups also start first."
                    min={0}
                    max={100}
                    allowDecimal={false}
                    allowNegative={false}
                    {...form.getInputProps('priority')}
                  />
                  <Switch
                    label="Enabled"
                    description="A disabled policy keeps its VMs but runs only when started by hand."
                    mt={{ base: 0, sm: 'lg' }}
                    {...form.getInputProps('enabled', { type: 'checkbox' })}
                  />
                </SimpleGrid>
              </Section>

              <Section
                title="Schedule"
                description={
                  snapshots
                    ? 'When the policy takes a snapshot of each of its VMs. One rule per line, with no full or incremental: e.g. daily 12:00.'
                    : 'When the policy backs its VMs up. One rule per line; each starts with full or incremental.'
                }
              >
                <ScheduleRulesInput form={form} rowErrors={scheduleErrors} draftErrors={draftErrors.current} />
                <Select
                  label="Time zone"
                  description="The clock the rules are read on"
                  placeholder="The server's time zone"
                  data={timeZones}
                  searchable
                  clearable={policy === undefined}
                  limit={50}
                  nothingFoundMessage="No such time zone"
                  {...form.getInputProps('timeZone')}
                  error={form.errors['timeZone'] ?? previewFieldError}
                />
              </Section>

              {snapshots ? (
                <Section
                  title="Retention"
                  description="After each run, the policy deletes the oldest of its own snapshots of a VM beyond this number. Snapshots taken by hand or by another policy are never touched."
                >
                  <NumberInput
                    label="Keep last"
                    description="snapshots of each VM"
                    min={1}
                    max={1000}
                    allowDecimal={false}
                    allowNegative={false}
                    maw={240}
                    {...form.getInputProps('snapshotsKept')}
                  />
                </Section>
              ) : (
                <Section
                  title="Retention"
                  description="Which backups stay after each run; the rest are removed and their space reclaimed. Empty fields are not used; with none at all, every backup is kept."
                >
                  <SimpleGrid cols={{ base: 2, sm: 3 }}>
                    <NumberInput label="Keep last" description="newest backups" {...RULE_INPUT} {...form.getInputProps('keepLast')} />
                    <NumberInput label="Daily" description="days, newest of each" {...RULE_INPUT} {...form.getInputProps('daily')} />
                    <NumberInput label="Weekly" description="weeks, newest of each" {...RULE_INPUT} {...form.getInputProps('weekly')} />
                    <NumberInput label="Monthly" description="months, newest of each" {...RULE_INPUT} {...form.getInputProps('monthly')} />
                    <NumberInput label="Yearly" description="years, newest of each" {...RULE_INPUT} {...form.getInputProps('yearly')} />
                    <NumberInput label="Max age (days)" description="older ones go" {...RULE_INPUT} {...form.getInputProps('maxAgeDays')} />
                  </SimpleGrid>
                  {!m365 && (
                    <Checkbox
                      label="Keep the latest backup of VMs that still exist"
                      description="Whatever the rules say, a VM still on its host keeps its newest backup. Off: a deleted VM's backups age out like any other."
                      {...form.getInputProps('keepLatestOfExistingVm', { type: 'checkbox' })}
                    />
                  )}
                  <ScheduleInput
                    label="Retention schedule"
                    description='Also apply retention at these times, not only after each run, e.g. "daily 03:00" (no full/incremental). Empty: after runs only.'
                    placeholder="daily 03:00"
                    {...form.getInputProps('retentionSchedule')}
                  />
                </Section>
              )}

              {!snapshots && !m365 && (
                <Section
                  title="Copies"
                  description="Keep a second copy of every backup elsewhere (3-2-1): after each backup, it is copied to this destination, sending only what is not there yet, and the copies there are kept by their own rules. Restore can read either."
                >
                  <Select
                    label="Copy each backup to"
                    description="An S3 destination, or a directory destination on the same node as the one above"
                    placeholder="No copies"
                    clearable
                    data={(destinations.data ?? []).filter((destination) => String(destination.id) !== form.values.destination).map((destination) => ({ value: String(destination.id), label: `${destination.name} (on ${destination.node})` }))}
                    data-testid="policy-copy-to"
                    {...form.getInputProps('copyTo')}
                  />
                  {form.values.copyTo !== null && (
                    <>
                      <Text size="sm" c="dimmed">
                        Copies kept there: empty fields are not used; with none at all, the retention above applies there too. The newest copy of each VM always stays.
                      </Text>
                      <SimpleGrid cols={{ base: 2, sm: 3 }}>
                        <NumberInput label="Keep last" description="newest copies" {...RULE_INPUT} {...form.getInputProps('copyRetention.keepLast')} />
                        <NumberInput label="Daily" description="days, newest of each" {...RULE_INPUT} {...form.getInputProps('copyRetention.daily')} />
                        <NumberInput label="Weekly" description="weeks, newest of each" {...RULE_INPUT} {...form.getInputProps('copyRetention.weekly')} />
                        <NumberInput label="Monthly" description="months, newest of each" {...RULE_INPUT} {...form.getInputProps('copyRetention.monthly')} />
                        <NumberInput label="Yearly" description="years, newest of each" {...RULE_INPUT} {...form.getInputProps('copyRetention.yearly')} />
                        <NumberInput label="Max age (days)" description="older ones go" {...RULE_INPUT} {...form.getInputProps('copyRetention.maxAgeDays')} />
                      </SimpleGrid>
                    </>
                  )}
                </Section>
              )}

              {!snapshots && (
                <Section title="Verify" description="Re-read the destination's backups on a schedule, so damage is found before a restore needs them. Damaged backups are marked, and the run fails (and notifies).">
                  <VerifyFields form={form} />
                </Section>
              )}

              {m365 ? (
                <M365MembersSection form={form} />
              ) : (
                <VmMembersSection
                  form={form}
                  answer={answer}
                  policy={policy}
                  initiallyTicked={initialValues.manualVms}
                  refused={vmsRefusal?.vmId == null ? null : { vmId: vmsRefusal.vmId, message: vmsRefusal.message }}
                  listError={preview.error}
                />
              )}

              <Section title="Failures">
                <NumberInput
                  label="Fail the rest of the run above (%)"
                  description={
                    snapshots
                      ? "Once more than this share of a run's VMs failed, the snapshots not taken yet are cancelled. Empty: never."
                      : "Once more than this share of a run's VMs failed, the VMs not backed up yet are cancelled (e.g. the destination is full). Empty: never."
                  }
                  placeholder="Never"
                  min={0}
                  max={100}
                  suffix=" %"
                  allowDecimal={false}
                  allowNegative={false}
                  {...form.getInputProps('failRunAbovePercent')}
                />
              </Section>

              <Group justify="flex-end">
                <Button variant="default" component={Link} to={backTo}>
                  Cancel
                </Button>
                <Button type="submit" loading={save.isPending || changeVms.isPending}>
                  {policy === undefined ? 'Create policy' : 'Save changes'}
                </Button>
              </Group>
            </Stack>
          </Grid.Col>
          <Grid.Col span={{ base: 12, lg: 5 }} style={{ position: 'sticky', top: 'calc(var(--app-shell-header-height, 60px) + var(--mantine-spacing-md))' }}>
            <Stack>
              {preview.isError && previewFieldError === null && <PreviewError error={preview.error} />}
              <NextRunsPreview answer={answer} loading={preview.isFetching} policyTimeZone={values.timeZone ?? policy?.timeZone ?? null} kind={values.kind} />
              {!m365 && <MatchingVmsPreview answer={answer} loading={preview.isFetching} />}
              {showRetentionPreview && <RetentionPreview answer={answer} loading={preview.isFetching} destination={destinationName} />}
            </Stack>
          </Grid.Col>
        </Grid>
      </form>
    </>
  );
}

function VmsRefusalAlert({ refusal, policyName }: { refusal: VmsRefusal; policyName: string }) {
  return (
    <Alert
      color="red"
      icon={<IconAlertCircle />}
      role="alert"
      data-testid="vms-refusal"
      title={refusal.created ? 'The policy was created, but its VMs were not added' : 'The settings were saved, but the VMs were not changed'}
    >
      <Stack gap={4}>
        <Text size="sm">{refusal.message}</Text>
        <Text size="sm">
          {refusal.created
            ? `${policyName} was created with the settings below and is open for editing. The VMs you ticked are still ticked: untick or change what the reason names, then save.`
            : 'The VMs you ticked and unticked are as you left them: untick or change what the reason names, then save again.'}
        </Text>
      </Stack>
    </Alert>
  );
}
