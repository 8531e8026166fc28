import { NodeNameSchema, type InstallNode } from '@common/api/index.js';
import { z } from 'zod';

export type SshAuth = 'password' | 'key';

export interface SshFormValues {
  host: string;
  /** NumberInput gives '' while the field is empty. */
  port: number | string;
  user: string;
  auth: SshAuth;
  password: string;
  privateKey: string;
  passphrase: string;
  name: string;
  serverAddress: string;
}

export const SSH_FORM_DEFAULTS: SshFormValues = {
  host: '',
  port: 22,
  user: 'root',
  auth: 'password',
  password: '',
  privateKey: '',
  passphrase: '',
  name: '',
  serverAddress: '',
};

const OptionalNodeName = z.union([z.literal(''), NodeNameSchema]);

export const LocalFormSchema = z.object({ name: OptionalNodeName });
export type LocalFormValues = z.infer<typeof LocalFormSchema>;

export const SshFormSchema = z
  .object({
    host: z.string().trim().min(1, 'Enter the host name or IP address').max(255),
    port: z.coerce.number({ message: 'Enter a port number' }).int('Enter a whole number').min(1, 'Ports go from 1 to 65535').max(65535, 'Ports go from 1 to 65535'),
    user: z.string().trim().min(1, 'Enter the user to sign in as').max(64),
    auth: z.enum(['password', 'key']),
    password: z.string().max(1024),
    privateKey: z.string().max(16384, 'That key is too long'),
    passphrase: z.string().max(1024),
    name: OptionalNodeName,
    serverAddress: z.string().trim().max(255),
  })
  .superRefine((values, ctx) => {
    if (values.auth === 'password' && values.password === '') ctx.addIssue({ code: 'custom', path: ['password'], message: 'Enter the password' });
    if (values.auth === 'key' && values.privateKey.trim() === '') {
      ctx.addIssue({ code: 'custom', path: ['privateKey'], message: 'Paste the private key (the whole file, BEGIN to END)' });
    }
  });

/** The host and port the form points at now, as the probe and the install will use them. */
export function sshTarget(values: Pick<SshFormValues, 'host' | 'port'>): { host: string; port: number } {
  return { host: values.host.trim(), port: Number(values.port) };
}

/** Only the chosen kind of credential is sent; empty optional fields are left out. */
export function toSshInstallRequest(values: SshFormValues, hostKeyFingerprint: string): InstallNode {
  const name = values.name.trim();
  const serverAddress = values.serverAddress.trim();
  const credential =
    values.auth === 'password'
      ? { password: values.password }
      : { privateKey: `${values.privateKey.trim()}\n`, ...(values.passphrase === '' ? {} : { passphrase: values.passphrase }) };
  return {
    method: 'ssh',
    ...sshTarget(values),
    user: values.user.trim(),
    ...credential,
    hostKeyFingerprint,
    ...(name === '' ? {} : { name }),
    ...(serverAddress === '' ? {} : { serverAddress }),
  };
}

export function toLocalInstallRequest(values: LocalFormValues): InstallNode {
  const name = values.name.trim();
  return { method: 'local', ...(name === '' ? {} : { name }) };
}

/**
 * The host key file whose fingerprint matches what the server saw, for the `ssh-keygen -lf`
 * hint: "ssh-ed25519" → ed25519, "ecdsa-sha2-nistp256" → ecdsa, "ssh-rsa"/"rsa-sha2-512" → rsa.
 */
export function hostKeyFile(keyType: string): string {
  const type = keyType.toLowerCase();
  const kind = type.includes('ed25519') ? 'ed25519' : type.includes('ecdsa') ? 'ecdsa' : type.includes('rsa') ? 'rsa' : type.includes('dss') ? 'dsa' : 'ed25519';
  return `/etc/ssh/ssh_host_${kind}_key.pub`;
}

/** The server names install tasks "node:NAME". */
export function nodeNameFromSubject(subject: string | null): string | null {
  return subject?.startsWith('node:') === true ? subject.slice('node:'.length) : null;
}
