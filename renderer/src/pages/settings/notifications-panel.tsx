import type { NotificationSettings } from '@common/api/index.js';
import { Alert, Skeleton, Stack } from '@mantine/core';
import { useForm } from '@mantine/form';
import { notifications } from '@mantine/notifications';
import { IconLock } from '@tabler/icons-react';
import { fieldErrorMessage, isApiError } from '../../api/api-error.js';
import { useNotificationSettingsQuery, useSaveNotificationSettingsMutation } from '../../api/notifications.queries.js';
import { useSession } from '../../auth/session-context.js';
import { FormError } from '../../components/form-error.js';
import { QueryErrorAlert } from '../../components/query-error-alert.js';
import { SaveDiscardButtons } from '../../components/save-discard-buttons.js';
import { NotificationsDailyReportSection } from './notifications-daily-report-section.js';
import { NotificationsEmailSection } from './notifications-email-section.js';
import { formFieldOf, toFormValues, toRequest, validate, type NotificationsFormValues } from './notifications-form.js';
import { NotificationsRulesSection } from './notifications-rules-section.js';
import { NotificationsWebhookSection } from './notifications-webhook-section.js';

/** Settings → Notifications: e-mail, webhook, rules and the daily report. Administrators only, like the server says. */
export function NotificationsPanel() {
  const { isAdmin } = useSession();
  const settings = useNotificationSettingsQuery(isAdmin);

  if (!isAdmin || isApiError(settings.error, 403)) {
    return (
      <Alert color="gray" icon={<IconLock />} title="Only administrators can see and change notifications">
        Ask an administrator to add you to the e-mails or the daily report.
      </Alert>
    );
  }
  if (settings.isPending) return <Skeleton h={420} radius="md" />;
  if (settings.isError) return <QueryErrorAlert title="Could not load the notification settings" error={settings.error} onRetry={() => void settings.refetch()} />;
  return <NotificationsForm saved={settings.data} />;
}

function NotificationsForm({ saved }: { saved: NotificationSettings }) {
  const save = useSaveNotificationSettingsMutation();
  const form = useForm<NotificationsFormValues>({
    mode: 'controlled',
    initialValues: toFormValues(saved),
    validate,
  });

  const submit = form.onSubmit((values) => {
    save.mutate(toRequest(values), {
      onSuccess: (next) => {
        // Password fields empty again: what is stored now shows as "a password is stored".
        const fresh = toFormValues(next);
        form.setInitialValues(fresh);
        form.setValues(fresh);
        form.resetDirty(fresh);
        notifications.show({ color: 'green', message: 'Notification settings saved.' });
      },
      onError: (error) => {
        const field = formFieldOf(isApiError(error) ? error.field : undefined);
        if (field !== null) form.setFieldError(field, fieldErrorMessage(error, field));
      },
    });
  });

  const dirty = form.isDirty();
  const firstRecipient = form.values.rules.find((r) => r.channel === 'email')?.recipients[0] ?? '';
  const fieldError = isApiError(save.error) && formFieldOf(save.error.field) !== null;

  return (
    <form onSubmit={submit} noValidate aria-label="Notification settings">
      <Stack maw={960}>
        <NotificationsEmailSection form={form} saved={saved} defaultTestAddress={firstRecipient} />
        <NotificationsWebhookSection form={form} saved={saved} />
        <NotificationsRulesSection form={form} />
        <NotificationsDailyReportSection form={form} dirty={dirty} />
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
    </form>
  );
}
