import { createHash, randomBytes } from 'node:crypto';
import type { Sql } from '../db/catalog.js';

export type SessionKind = 'cookie' | 'token';

export interface SessionRow {
  id: number;
  user_id: number;
  kind: SessionKind;
  expires_at: Date;
  last_seen_at: Date;
}

/** Only a hash of each token is stored, so a catalog dump cannot be replayed as a login. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class SessionsRepository {
  constructor(private readonly sql: Sql) {}

  async create(s: { userId: number; kind: SessionKind; ttlMs: number; ip?: string; userAgent?: string }): Promise<{ token: string; expiresAt: Date }> {
    const token = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + s.ttlMs);
    await this.sql.execute(
      'INSERT INTO sessions (token_hash, user_id, kind, expires_at, ip, user_agent) VALUES (?, ?, ?, ?, ?, ?)',
      [hashToken(token), s.userId, s.kind, expiresAt, s.ip ?? null, (s.userAgent ?? '').slice(0, 255) || null],
    );
    return { token, expiresAt };
  }

  async findValid(token: string): Promise<SessionRow | undefined> {
    const rows = await this.sql.query<SessionRow>(
      'SELECT id, user_id, kind, expires_at, last_seen_at FROM sessions WHERE token_hash = ? AND expires_at > CURRENT_TIMESTAMP(3)',
      [hashToken(token)],
    );
    return rows[0];
  }

  async extend(id: number, expiresAt: Date): Promise<void> {
    await this.sql.execute('UPDATE sessions SET last_seen_at = CURRENT_TIMESTAMP(3), expires_at = ? WHERE id = ?', [expiresAt, id]);
  }

  async deleteByToken(token: string): Promise<void> {
    await this.sql.execute('DELETE FROM sessions WHERE token_hash = ?', [hashToken(token)]);
  }

  async deleteForUser(userId: number, exceptId?: number): Promise<void> {
    await this.sql.execute('DELETE FROM sessions WHERE user_id = ? AND id <> ?', [userId, exceptId ?? 0]);
  }

  async deleteExpired(): Promise<number> {
    return (await this.sql.execute('DELETE FROM sessions WHERE expires_at <= CURRENT_TIMESTAMP(3)')).affectedRows;
  }
}
