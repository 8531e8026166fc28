import fs from 'node:fs';
import type { Logger } from 'pino';
import { PasswordSchema, type CreateUser, type UpdateUser, type User } from '../../../common/api/users.js';
import type { Catalog } from '../db/catalog.js';
import { conflict, notFound } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import type { AuditService } from './audit.service.js';
import type { Principal } from './auth.service.js';
import { hashPassword } from './password-hasher.js';
import type { SessionsRepository } from './sessions.repository.js';
import { publicUser, type UsersRepository } from './users.repository.js';

export class UsersService {
  constructor(
    private readonly catalog: Catalog,
    private readonly users: UsersRepository,
    private readonly sessions: SessionsRepository,
    private readonly audit: AuditService,
    private readonly bus: EventBus,
    private readonly logger: Logger,
  ) {}

  async list(): Promise<User[]> {
    return (await this.users.list()).map(publicUser);
  }

  async create(input: CreateUser, by: Principal, ip?: string): Promise<User> {
    if (await this.users.byUsername(input.username)) throw conflict(`a user named "${input.username}" already exists`, 'username');
    const passwordHash = await hashPassword(input.password);
    try {
      await this.users.insert({ username: input.username, passwordHash, role: input.role });
    } catch (err) {
      if ((err as { code?: string }).code === 'ER_DUP_ENTRY') throw conflict(`a user named "${input.username}" already exists`, 'username');
      throw err;
    }
    const created = (await this.users.byUsername(input.username))!;
    await this.audit.record({ actor: by.user.username, action: 'user.create', target: `user:${created.username}`, details: { role: created.role }, ip: ip ?? null });
    this.bus.publish({ type: 'users.changed' });
    return publicUser(created);
  }

  async update(ref: string, changes: UpdateUser, by: Principal, ip?: string): Promise<User> {
    const passwordHash = changes.password ? await hashPassword(changes.password) : undefined;
    const entry = await this.catalog.transaction(async (tx) => {
      const user = await this.users.byRef(ref, tx);
      if (!user) throw notFound(`there is no user "${ref}"`);
      if (changes.role && changes.role !== 'admin' && user.role === 'admin' && (await this.users.countAdmins(tx)) <= 1) {
        throw conflict(`"${user.username}" is the last administrator; make another user an administrator first`, 'role');
      }
      await this.users.update(user.id, { ...(changes.role ? { role: changes.role } : {}), ...(passwordHash ? { passwordHash } : {}) }, tx);
      const details: Record<string, unknown> = {};
      if (changes.role) details.role = { from: user.role, to: changes.role };
      if (passwordHash) details.passwordChanged = true;
      const e = await this.audit.record({ actor: by.user.username, action: 'user.update', target: `user:${user.username}`, details, ip: ip ?? null }, tx);
      return { e, id: user.id };
    });
    // A new password ends the user's other sessions (keeps the caller's own if they changed their own).
    if (passwordHash) await this.sessions.deleteForUser(entry.id, by.user.id === entry.id ? by.sessionId : undefined);
    this.audit.announce(entry.e);
    this.bus.publish({ type: 'users.changed' });
    return publicUser((await this.users.byId(entry.id))!);
  }

  async remove(ref: string, by: Principal, ip?: string): Promise<void> {
    const entry = await this.catalog.transaction(async (tx) => {
      const user = await this.users.byRef(ref, tx);
      if (!user) throw notFound(`there is no user "${ref}"`);
      if (user.id === by.user.id) throw conflict('you cannot remove your own account; sign in as another administrator');
      if (user.role === 'admin' && (await this.users.countAdmins(tx)) <= 1) {
        throw conflict(`"${user.username}" is the last administrator and cannot be removed`);
      }
      await this.users.delete(user.id, tx);
      return this.audit.record({ actor: by.user.username, action: 'user.remove', target: `user:${user.username}`, ip: ip ?? null }, tx);
    });
    this.audit.announce(entry);
    this.bus.publish({ type: 'users.changed' });
  }

  /**
   * Unattended installs: create 'admin' from a password file, only when the
   * catalog has no users yet. Returns true when it created the account.
   */
  async bootstrapAdminFromFile(file: string): Promise<boolean> {
    let password: string;
    try {
      password = (await fs.promises.readFile(file, 'utf8')).replace(/\r?\n$/, '');
    } catch (err) {
      throw new Error(`cannot read the admin password file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const parsed = PasswordSchema.safeParse(password);
    if (!parsed.success) throw new Error(`the admin password in ${file} is not acceptable: ${parsed.error.issues[0]?.message}`);
    const passwordHash = await hashPassword(password);
    const entry = await this.catalog.transaction(async (tx) => {
      const rows = await tx.query<{ n: number }>('SELECT COUNT(*) AS n FROM users FOR UPDATE');
      if (Number(rows[0]?.n) > 0) return undefined;
      await this.users.insert({ username: 'admin', passwordHash, role: 'admin' }, tx);
      return this.audit.record({ actor: 'system', action: 'setup.first_admin', target: 'user:admin', details: { from: 'admin-password-file' } }, tx);
    }, { retryDeadlock: true });
    if (!entry) {
      this.logger.info('users already exist; --admin-password-file ignored');
      return false;
    }
    this.audit.announce(entry);
    return true;
  }
}
