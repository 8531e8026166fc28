import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CreateDestinationSchema } from '../../../common/api/destinations.js';
import { CreateHypervisorSchema } from '../../../common/api/hypervisors.js';
import { issuesToFieldMessages, plainFieldMessage, plainIssueMessage } from '../../../common/field-messages.js';

const messagesOf = (schema: z.ZodType, value: unknown): Record<string, string> => {
  const result = schema.safeParse(value);
  if (result.success) throw new Error('expected the value to be refused');
  return issuesToFieldMessages(result.error.issues);
};

describe('plain words for field errors', () => {
  it('says what to enter for an empty field, not zod’s "Too small"', () => {
    const errors = messagesOf(CreateDestinationSchema, { name: '', node: '', path: '/mnt/x' });
    expect(errors).toEqual({ name: 'Enter a name', node: 'Choose a node' });
    expect(Object.values(errors).join(' ')).not.toMatch(/Too small|expected string/);
  });

  it('says what to enter for a missing field', () => {
    expect(messagesOf(z.object({ username: z.string() }), {})).toEqual({ username: 'Enter a user name' });
  });

  it('keeps a schema’s own words, as a sentence', () => {
    expect(messagesOf(CreateDestinationSchema, { name: 'a', node: 'n', path: 'relative/path' })).toEqual({ path: 'The path must be absolute, e.g. /mnt/nas/vplus' });
    expect(messagesOf(CreateHypervisorSchema, { name: 'kvm', node: 'n', uri: 'vmware://x' })).toEqual({ uri: 'A libvirt URI such as qemu:///system' });
  });

  it('names limits in characters, numbers and choices', () => {
    expect(messagesOf(z.object({ name: z.string().max(3) }), { name: 'abcd' })).toEqual({ name: 'The name must be at most 3 characters' });
    expect(messagesOf(z.object({ password: z.string().min(8) }), { password: 'short' })).toEqual({ password: 'The password must be at least 8 characters' });
    expect(messagesOf(z.object({ port: z.number().min(1) }), { port: 0 })).toEqual({ port: 'The port must be at least 1' });
    expect(messagesOf(z.object({ port: z.number() }), { port: 'x' })).toEqual({ port: 'The port must be a number' });
    expect(messagesOf(z.object({ disks: z.array(z.string()).min(1) }), { disks: [] })).toEqual({ disks: 'Choose at least one' });
    expect(messagesOf(z.object({ role: z.enum(['admin', 'viewer']) }), { role: 'x' })).toEqual({ role: 'Choose one of the options' });
    expect(messagesOf(z.object({ to: z.email() }), { to: 'nobody' })).toEqual({ to: 'Enter an e-mail address such as name@example.com' });
  });

  it('words fields it has no noun for from their name, and keeps the first issue per field', () => {
    expect(messagesOf(z.object({ retention: z.object({ storageDir: z.string().min(1).regex(/^\//) }) }), { retention: { storageDir: '' } })).toEqual({
      'retention.storageDir': 'Enter the storage dir',
    });
  });

  it('turns the API’s field errors into the same words', () => {
    expect(plainFieldMessage('name', 'body field "name": Too small: expected string to have >=1 characters')).toBe('Enter a name');
    expect(plainFieldMessage('name', 'Too big: expected string to have <=64 characters')).toBe('The name must be at most 64 characters');
    expect(plainFieldMessage('uri', 'body field "uri": Invalid input: expected string, received undefined')).toBe('Enter a libvirt URI such as qemu:///system');
    expect(plainFieldMessage('name', 'body field "name": Enter a name')).toBe('Enter a name');
    expect(plainFieldMessage('retention.daily', 'body field "retention.daily": daily must be at least 1')).toBe('Daily must be at least 1');
  });

  it('leaves the node’s and the server’s reasons as they are, as a sentence', () => {
    expect(plainFieldMessage('path', 'destination /mnt/nas/vplus does not exist on node n1; is the share mounted?')).toBe(
      'Destination /mnt/nas/vplus does not exist on node n1; is the share mounted?',
    );
    expect(plainFieldMessage(undefined, 'querystring: Invalid input')).toBe('This value is not valid');
    expect(plainIssueMessage({ code: 'custom', message: 'the passwords do not match' }, 'confirmPassword')).toBe('The passwords do not match');
  });
});
