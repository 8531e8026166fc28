import { CreateS3DestinationSchema, S3_LOCK_MODES, type CreateS3Destination } from '@common/api/index.js';
import { Alert, Button, FileButton, Group, NumberInput, PasswordInput, SegmentedControl, SimpleGrid, Stack, Switch, Text, Textarea, TextInput } from '@mantine/core';
import type { UseFormReturnType } from '@mantine/form';
import { IconCircleCheck, IconPlugConnected } from '@tabler/icons-react';
import { z } from 'zod';

/** What the S3 part of the Add destination form holds (the lock's parts apart, for the inputs). */
export const S3FormValuesSchema = z.object({
  endpoint: z.string(),
  region: z.string(),
  bucket: z.string(),
  prefix: z.string(),
  accessKeyId: z.string(),
  secretAccessKey: z.string(),
  forcePathStyle: z.boolean(),
  caPem: z.string(),
  lock: z.boolean(),
  lockMode: z.enum(S3_LOCK_MODES),
  lockDays: z.union([z.number(), z.string()]),
});
export type S3FormValues = z.infer<typeof S3FormValuesSchema>;

export const EMPTY_S3_FORM: S3FormValues = {
  endpoint: '',
  region: '',
  bucket: '',
  prefix: '',
  accessKeyId: '',
  secretAccessKey: '',
  forcePathStyle: true,
  caPem: '',
  lock: false,
  lockMode: 'governance',
  lockDays: 30,
};

/** The form's S3 values as the API takes them (empty optional fields left out). */
export function s3Request(v: S3FormValues): CreateS3Destination {
  return {
    ...(v.endpoint.trim() !== '' ? { endpoint: v.endpoint.trim() } : {}),
    ...(v.region.trim() !== '' ? { region: v.region.trim() } : {}),
    bucket: v.bucket.trim(),
    prefix: v.prefix.trim().replace(/^\/+|\/+$/g, ''),
    forcePathStyle: v.forcePathStyle,
    ...(v.caPem.trim() !== '' ? { caPem: v.caPem } : {}),
    ...(v.lock ? { lock: { mode: v.lockMode, days: typeof v.lockDays === 'number' ? v.lockDays : Number.NaN } } : {}),
    accessKeyId: v.accessKeyId.trim(),
    secretAccessKey: v.secretAccessKey,
  };
}

/** The API's rules for the S3 part, as issues on the form's fields ("s3.bucket", "s3.lockDays"). */
export function s3Issues(v: S3FormValues): { path: string[]; message: string }[] {
  const parsed = CreateS3DestinationSchema.safeParse(s3Request(v));
  if (parsed.success) return [];
  return parsed.error.issues.map((issue) => {
    const [first, second] = issue.path.map(String);
    const field = first === 'lock' ? (second === 'days' ? 'lockDays' : 'lockMode') : (first ?? 'bucket');
    return { path: ['s3', field], message: issue.message };
  });
}

interface FormWithS3 {
  s3: S3FormValues;
}

/**
 * The S3-compatible part of Add destination: where the bucket is, the keys, addressing, a
 * private CA, object lock, and **Check**, which has the node try it all and shows what is wrong
 * under the field it is about.
 */
export function S3DestinationFields<T extends FormWithS3>({
  form,
  onCheck,
  checking,
  checked,
}: {
  form: UseFormReturnType<T>;
  onCheck: () => void;
  checking: boolean;
  checked: string | null;
}) {
  // Mantine's paths are typed per form; these fields exist on every form with `s3`.
  const input = (field: keyof S3FormValues, options?: { type: 'checkbox' }) => form.getInputProps(`s3.${field}` as never, options);
  const values = form.getValues().s3;
  const readCa = async (file: File | null) => {
    if (file === null) return;
    form.setFieldValue('s3.caPem' as never, (await file.text()));
  };
  return (
    <Stack gap="sm" data-testid="s3-fields">
      <SimpleGrid cols={{ base: 1, sm: 2 }}>
        <TextInput
          label="Endpoint URL"
          description="The store's address, e.g. https://s3.eu-central-1.wasabisys.com or https://minio.lan:9000; empty for AWS S3 itself"
          placeholder="https://s3.example.com"
          autoComplete="off"
          spellCheck={false}
          {...input('endpoint')}
        />
        <TextInput label="Region" description="For AWS the bucket's region; most other stores accept the default" placeholder="us-east-1" autoComplete="off" spellCheck={false} {...input('region')} />
        <TextInput label="Bucket" description="It must exist already" placeholder="backups" autoComplete="off" spellCheck={false} {...input('bucket')} />
        <TextInput label="Prefix" description="Optional: a folder in the bucket for this repository, e.g. office/vplus" placeholder="vplus" autoComplete="off" spellCheck={false} {...input('prefix')} />
        <TextInput label="Access key" autoComplete="off" spellCheck={false} {...input('accessKeyId')} />
        <PasswordInput label="Secret key" description="Kept sealed on the server; never shown again" autoComplete="new-password" {...input('secretAccessKey')} />
      </SimpleGrid>
      <Switch
        label="Path-style addressing"
        description="https://host/bucket/key instead of https://bucket.host/key: MinIO and Ceph usually want it; AWS and Wasabi do not"
        {...input('forcePathStyle', { type: 'checkbox' })}
      />
      <Textarea
        label="Trusted CA"
        description="Only for an endpoint whose certificate a private CA signed: paste its PEM, or choose the file"
        placeholder="-----BEGIN CERTIFICATE-----"
        autosize
        minRows={2}
        maxRows={6}
        spellCheck={false}
        styles={{ input: { fontFamily: 'monospace', fontSize: 12 } }}
        {...input('caPem')}
      />
      <Group gap="xs">
        <FileButton onChange={(file) => void readCa(file)} accept=".pem,.crt,.cer,application/x-pem-file">
          {(props) => (
            <Button variant="default" size="xs" {...props}>
              Choose CA file…
            </Button>
          )}
        </FileButton>
      </Group>
      <Switch
        label="Object lock (immutable backups)"
        description="Every object a backup needs is locked for the days below: not even a stolen admin key can delete it earlier. The bucket must have object lock enabled."
        {...input('lock', { type: 'checkbox' })}
      />
      {values.lock && (
        <Group align="flex-start">
          <Stack gap={4}>
            <Text size="sm" fw={500}>
              Mode
            </Text>
            <SegmentedControl
              data={[
                { value: 'governance', label: 'Governance' },
                { value: 'compliance', label: 'Compliance' },
              ]}
              {...input('lockMode')}
            />
            <Text size="xs" c="dimmed" maw={320}>
              Compliance: nobody, not even the bucket&apos;s owner, can shorten it.
            </Text>
          </Stack>
          <NumberInput label="Days" min={1} max={36_500} allowDecimal={false} w={120} {...input('lockDays')} />
        </Group>
      )}
      <Group gap="sm" align="center">
        <Button variant="light" leftSection={<IconPlugConnected size={16} aria-hidden />} onClick={onCheck} loading={checking}>
          Check
        </Button>
        {checking && (
          <Text size="sm" c="dimmed" role="status">
            The node is trying the endpoint, the keys and the bucket…
          </Text>
        )}
      </Group>
      {checked !== null && (
        <Alert color="green" icon={<IconCircleCheck />} role="status" data-testid="s3-check-ok">
          {checked}
        </Alert>
      )}
    </Stack>
  );
}
