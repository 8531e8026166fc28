import { Button, PasswordInput, Stack, TextInput } from '@mantine/core';
import { useForm } from '@mantine/form';
import { Navigate, useLocation } from 'react-router-dom';
import { useLoginMutation, useMeQuery, type Credentials } from '../api/auth.queries.js';
import { returnPathFrom } from '../auth/return-path.js';
import { AuthCard } from '../components/auth-card.js';
import { FormError } from '../components/form-error.js';

export function SignInPage() {
  const me = useMeQuery();
  const login = useLoginMutation();
  const location = useLocation();
  const returnPath = returnPathFrom(location.state);

  const form = useForm<Credentials>({
    mode: 'uncontrolled',
    initialValues: { username: '', password: '' },
    validate: {
      username: (value) => (value.trim() === '' ? 'Enter your username' : null),
      password: (value) => (value === '' ? 'Enter your password' : null),
    },
  });

  // Already signed in (e.g. a bookmarked /signin): go straight on.
  if (me.data != null) return <Navigate to={returnPath} replace />;

  const submit = form.onSubmit((values) => {
    login.mutate(
      { username: values.username.trim(), password: values.password },
      // Success needs no handler: the cached user is set and the redirect above takes over.
      // Keep the username, clear the password: retyping it is expected after a failure.
      { onError: () => form.setFieldValue('password', '') },
    );
  });

  return (
    <AuthCard title="Sign in" description="Sign in to manage backups on this vPlus server.">
      <form onSubmit={submit} noValidate>
        <Stack>
          <FormError error={login.error} />
          <TextInput
            label="Username"
            autoComplete="username"
            autoFocus
            key={form.key('username')}
            {...form.getInputProps('username')}
          />
          <PasswordInput
            label="Password"
            autoComplete="current-password"
            key={form.key('password')}
            {...form.getInputProps('password')}
          />
          <Button type="submit" loading={login.isPending} fullWidth>
            Sign in
          </Button>
        </Stack>
      </form>
    </AuthCard>
  );
}
