import type { Role, User } from '../../../common/api/users.js';
import { canonicalName, looksLikeId, sameName } from '../../../common/names.js';
import type { Sql } from '../db/catalog.js';

interface UserRow {
  id: number;
  username: string;
  password_hash: string;
  role: Role;
  created_at: Date;
  last_login_at: Date | null;
}

export interface UserRecord extends User {
  passwordHash: string;
}

function toRecord(r: UserRow): UserRecord {
  return {
    id: r.id,
    username: r.username,
    role: r.role,
    createdAt: r.created_at.toISOString(),
    lastLoginAt: r.last_login_at ? r.last_login_at.toISOString() : null,
    passwordHash: r.password_hash,
  };
}

export function publicUser(u: UserRecord): User {
  const { passwordHash: _omit, ...rest } = u;
  return rest;
}

export class UsersRepository {
  constructor(private readonly sql: Sql) {}

  async count(sql: Sql = this.sql): Promise<number> {
    const rows = await sql.query<{ n: number }>('SELECT COUNT(*) AS n FROM users');
    return Number(rows[0]?.n ?? 0);
  }

  async countAdmins(sql: Sql = this.sql): Promise<number> {
    const rows = await sql.query<{ n: number }>("SELECT COUNT(*) AS n FROM users WHERE role = 'admin' FOR UPDATE");
    return Number(rows[0]?.n ?? 0);
  }

  async list(): Promise<UserRecord[]> {
    return (await this.sql.query<UserRow>('SELECT * FROM users ORDER BY username')).map(toRecord);
  }

  async byId(id: number, sql: Sql = this.sql): Promise<UserRecord | undefined> {
    const rows = await sql.query<UserRow>('SELECT * FROM users WHERE id = ?', [id]);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  /**
   * The user of this name (common/names.ts): the catalog's collation finds candidates, and
   * only one whose name is the same name is taken, never a merely similar one.
   */
  async byUsername(username: string, sql: Sql = this.sql): Promise<UserRecord | undefined> {
    const rows = await sql.query<UserRow>('SELECT * FROM users WHERE username = ?', [canonicalName(username)]);
    const row = rows.find((r) => sameName(r.username, username));
    return row ? toRecord(row) : undefined;
  }

  /** Numeric refs are ids (a username is never all digits); anything else a username. */
  async byRef(ref: string, sql: Sql = this.sql): Promise<UserRecord | undefined> {
    if (looksLikeId(ref)) {
      const byId = await this.byId(Number(ref), sql);
      if (byId) return byId;
    }
    return this.byUsername(ref, sql);
  }

  async insert(u: { username: string; passwordHash: string; role: Role }, sql: Sql = this.sql): Promise<number> {
    const res = await sql.execute('INSERT INTO users (username, password_hash, role) VALUES (?, ?, ?)', [canonicalName(u.username), u.passwordHash, u.role]);
    return res.insertId;
  }

  async update(id: number, changes: { role?: Role; passwordHash?: string }, sql: Sql = this.sql): Promise<void> {
    if (changes.role) await sql.execute('UPDATE users SET role = ? WHERE id = ?', [changes.role, id]);
    if (changes.passwordHash) await sql.execute('UPDATE users SET password_hash = ? WHERE id = ?', [changes.passwordHash, id]);
  }

  async delete(id: number, sql: Sql = this.sql): Promise<void> {
    await sql.execute('DELETE FROM users WHERE id = ?', [id]);
  }

  async touchLogin(id: number): Promise<void> {
    await this.sql.execute('UPDATE users SET last_login_at = CURRENT_TIMESTAMP(3) WHERE id = ?', [id]);
  }
}
