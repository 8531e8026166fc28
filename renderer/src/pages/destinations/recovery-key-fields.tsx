import { RECOVERY_KEY_BEGIN, RECOVERY_KEY_END, RECOVERY_KEY_MAX_LENGTH, RecoveryKeySchema } from '@common/api/index.js';
import { Button, FileButton, Group, PasswordInput, Stack, Textarea } from '@mantine/core';
import type { GetInputPropsReturnType } from '@mantine/form';
import { IconFileUpload } from '@tabler/icons-react';
import { z } from 'zod';

/** A recovery key typed or pasted in a form: the block's shape is checked here, the rest by the node. */
export const RecoveryKeyFieldSchema = z.string().refine((text) => text.trim() !== '', 'Paste the recovery key, or load the file downloaded when the destination was added').pipe(RecoveryKeySchema);

/** The block only, when the text holds one (a downloaded key file has a few lines of words above it). */
function blockOf(text: string): string {
  const begin = text.indexOf(RECOVERY_KEY_BEGIN);
  const end = text.indexOf(RECOVERY_KEY_END, begin + 1);
  return begin < 0 || end < 0 ? text : `${text.slice(begin, end + RECOVERY_KEY_END.length)}\n`;
}

/** The part of a Mantine form with these three fields that the key fields use. */
interface RecoveryKeyForm {
  getInputProps(path: 'recoveryKey' | 'password' | 'confirmPassword'): GetInputPropsReturnType;
  setFieldValue(path: 'recoveryKey', value: string): void;
  setFieldError(path: 'recoveryKey', error: string): void;
  clearFieldError(path: 'recoveryKey'): void;
}

/**
 * The recovery key (pasted, typed back from paper, or loaded from the downloaded file) and the
 * new password, twice: what setting a new password with the recovery key asks for. The form
 * holds them as `recoveryKey`, `password` and `confirmPassword`.
 */
export function RecoveryKeyFields({ form }: { form: RecoveryKeyForm }) {
  const onLoaded = (text: string) => {
    form.setFieldValue('recoveryKey', text);
    form.clearFieldError('recoveryKey');
  };
  const onLoadError = (message: string) => form.setFieldError('recoveryKey', message);
  const load = (file: File | null) => {
    if (file === null) return;
    if (file.size > RECOVERY_KEY_MAX_LENGTH) {
      onLoadError(`${file.name} is too large to be a vPlus recovery key`);
      return;
    }
    file.text().then(
      (text) => onLoaded(blockOf(text)),
      () => onLoadError(`${file.name} could not be read`),
    );
  };
  return (
    <Stack gap="sm">
      <Textarea
        label="Recovery key"
        description={`The whole block, from ${RECOVERY_KEY_BEGIN} to ${RECOVERY_KEY_END}, as shown when the destination was first added`}
        placeholder={`${RECOVERY_KEY_BEGIN}\nRepository: …\n\n…\n${RECOVERY_KEY_END}`}
        autosize
        minRows={6}
        maxRows={10}
        autoComplete="off"
        spellCheck={false}
        data-autofocus
        styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)', fontSize: 'var(--mantine-font-size-xs)' } }}
        {...form.getInputProps('recoveryKey')}
      />
      <Group>
        <FileButton onChange={load} accept="text/plain,.txt,.key">
          {(props) => (
            <Button variant="default" size="xs" leftSection={<IconFileUpload size={14} aria-hidden />} {...props}>
              Load key file…
            </Button>
          )}
        </FileButton>
      </Group>
      <PasswordInput label="New password" description="At least 8 characters; it replaces the lost one" autoComplete="new-password" {...form.getInputProps('password')} />
      <PasswordInput label="Confirm new password" autoComplete="new-password" {...form.getInputProps('confirmPassword')} />
    </Stack>
  );
}
