import { Option, type Command } from 'commander';
import type { z } from 'zod';
import { PasswordSchema, ROLES, UsernameSchema, type Role, type User } from '../../common/api/index.js';
import { withClient } from '../client/session.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { formatTable, formatTimestamp } from '../format.js';
import { Output } from '../output.js';
import { readSecret } from '../secrets.js';

export function registerUserCommands(program: Command, ctx: CliContext): void {
  const user = program.command('user').description('manage the users of the admin UI, API and CLI');

  user
    .command('add')
    .description('create a user')
    .argument('<name>', 'user name')
    .addOption(new Option('--role <role>', 'what the user may do').choices(ROLES).makeOptionMandatory())
    .requiredOption('--password-stdin', 'read the password from stdin (asked twice without echo on a terminal)')
    .option('--json', 'print the created user as JSON only')
    .action((name: string, options: { role: Role; json?: boolean }) => addUser(ctx, name, options));

  user
    .command('list')
    .description('list users')
    .option('--json', 'print JSON only')
    .action((options: { json?: boolean }) => listUsers(ctx, options));

  user
    .command('remove')
    .description('delete a user, by name or id')
    .argument('<name>', 'user name or id')
    .action((name: string) => removeUser(ctx, name));
}

async function addUser(ctx: CliContext, name: string, options: { role: Role; json?: boolean }): Promise<void> {
  const out = new Output(ctx);
  const username = validate(UsernameSchema, name, 'user name');
  // Connect first: no point typing a password twice only to hear "not logged in".
  await withClient(ctx, async (client) => {
    const password = validate(
      PasswordSchema,
      await readSecret(ctx, { prompt: `Password for ${username}: `, confirm: true }),
      'password',
    );
    const created = await client.createUser({ username, password, role: options.role });
    if (options.json) out.json(created);
    else out.line(`Created user ${created.username} (${created.role}).`);
  });
}

async function listUsers(ctx: CliContext, options: { json?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const users = await client.listUsers();
    if (options.json) out.json(users);
    else out.line(formatUsers(users));
  });
}

async function removeUser(ctx: CliContext, name: string): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    await client.deleteUser(name);
    out.line(`Removed user ${name}.`);
  });
}

export function formatUsers(users: readonly User[]): string {
  if (users.length === 0) return 'No users.';
  return formatTable(
    ['ID', 'NAME', 'ROLE', 'CREATED', 'LAST LOGIN'],
    users.map((u) => [String(u.id), u.username, u.role, formatTimestamp(u.createdAt), formatTimestamp(u.lastLoginAt)]),
  );
}

/** Checks input against the API's own schema so the user hears of it before the network. */
function validate(schema: z.ZodType<string>, value: string, what: string): string {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new UsageError(`invalid ${what}: ${result.error.issues[0]?.message ?? 'not accepted'}`);
}
