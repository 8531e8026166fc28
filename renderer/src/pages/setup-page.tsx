import { SetupSchema } from '@common/api/index.js';
import { Button, PasswordInput, Stack, TextInput } from '@mantine/core';
import { useForm } from '@mantine/form';
import { z } from 'zod';
import { fieldErrorMessage, isApiError } from '../api/api-error.js';
import { useSetupMutation } from '../api/auth.queries.js';
import { useHealthQuery } from '../api/health.queries.js';
import { AuthCard } from '../components/auth-card.js';
import { FormError } from '../components/form-error.js';
import { plainResolver } from '../utils/form-validation.js';

// Same rules the server applies (common/api), plus the confirmation only a person needs.
const SetupFormSchema = SetupSchema.extend({ confirmPassword: z.string() }).refine(
  (values) => values.password === values.confirmPassword,
  { path: ['confirmPassword'], message: 'The passwords do not match' },
);
type SetupForm = z.infer<typeof SetupFormSchema>;

/**
 * The desktop app opens its own window at "#setup-code=…" (it runs the server, so it knows
 * the code); the fragment never reaches the network. Read once, then dropped from the address.
 */
function codeFromAddress(): string {
  const m = /(?:^#|&)setup-code=([0-9A-Za-z-]{1,64})/.exec(window.location.hash);
  if (m) window.history.replaceState(null, '', window.location.pathname + window.location.search);
  return m?.[1] ?? '';
}

export function SetupPage() {
  const setup = useSetupMutation();
  const health = useHealthQuery();
  const codeFile = health.data?.setupCodeFile ?? null;
  const form = useForm<SetupForm>({
    mode: 'uncontrolled',
    initialValues: { setupCode: codeFromAddress(), username: '', password: '', confirmPassword: '' },
    validate: plainResolver(SetupFormSchema),
  });

  const submit = form.onSubmit(({ setupCode, username, password }) => {
    setup.mutate(
      { setupCode, username, password },
      {
        // Success needs no handler: fresh health (setup done) makes BootGate leave /setup.
        onError: (error) => {
          if (isApiError(error) && (error.field === 'username' || error.field === 'password' || error.field === 'setupCode')) {
            form.setFieldError(error.field, fieldErrorMessage(error, error.field));
          }
        },
      },
    );
  });
  // A field error is shown on its field; anything else (e.g. setup already done) above the form.
  const formLevelError = isApiError(setup.error) && setup.error.field !== undefined ? null : setup.error;

  return (
    <AuthCard
      title="Create the first administrator"
      description="This server has no users yet. The account you create here can add everyone else."
    >
      <form onSubmit={submit} noValidate>
        <Stack>
          <FormError error={formLevelError} />
          <TextInput
            label="Setup code"
            description={`Printed in the server's log when it started${codeFile ? `, and saved in ${codeFile} on the server's machine` : ''}. It keeps anyone else on the network from taking over this server before you do.`}
            placeholder="XXXX-XXXX-XXXX"
            autoFocus
            autoComplete="off"
            spellCheck={false}
            key={form.key('setupCode')}
            {...form.getInputProps('setupCode')}
          />
          <TextInput
            label="Username"
            placeholder="admin"
            autoComplete="username"
            key={form.key('username')}
            {...form.getInputProps('username')}
          />
          <PasswordInput
            label="Password"
            description="At least 8 characters"
            autoComplete="new-password"
            key={form.key('password')}
            {...form.getInputProps('password')}
          />
          <PasswordInput
            label="Confirm password"
            autoComplete="new-password"
            key={form.key('confirmPassword')}
            {...form.getInputProps('confirmPassword')}
          />
          <Button type="submit" loading={setup.isPending} fullWidth>
            Create administrator
          </Button>
        </Stack>
      </form>
    </AuthCard>
  );
}
