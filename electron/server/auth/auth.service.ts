import type { Logger } from 'pino';
import type { User } from '../../../common/api/users.js';
import type { Catalog } from '../db/catalog.js';
import { AppError, conflict, unauthorized } from '../errors.js';
import type { AuditService } from './audit.service.js';
import { loginThrottleKey, type LoginThrottle } from './login-throttle.js';
import { DUMMY_HASH_PROMISE, hashPassword, verifyPassword } from './password-hasher.js';
import type { SessionKind, SessionsRepository } from './sessions.repository.js';
import { publicUser, type UsersRepository } from './users.repository.js';

export const COOKIE_SESSION_TTL_MS = 12 * 3600_000;
export const TOKEN_SESSION_TTL_MS = 30 * 24 * 3600_000;
const SLIDE_AFTER_MS = 60_000;

export interface ClientContext {
  ip?: string;
  userAgent?: string;
}

export interface Principal {
  user: User;
  sessionId: number;
  kind: SessionKind;
}

export interface IssuedSession {
  user: User;
  token: string;
  kind: SessionKind;
  expiresAt: Date;
}

export class AuthService {
  private setupDone = false;

  constructor(
    private readonly catalog: Catalog,
    private readonly users: UsersRepository,
    private readonly sessions: SessionsRepository,
    private readonly audit: AuditService,
    /** Per username (strict) and per client address (looser: an office shares one address). */
    private readonly throttles: { user: LoginThrottle; ip: LoginThrottle },
    private readonly logger: Logger,
  ) {}

  async setupRequired(): Promise<boolean> {
    if (this.setupDone) return false;
    this.setupDone = (await this.users.count()) > 0;
    return !this.setupDone;
  }

  /** Creates the first admin. Refused once any user exists; concurrent calls cannot both win. */
  async setup(username: string, password: string, ctx: ClientContext, actor = username): Promise<IssuedSession> {
    const passwordHash = await hashPassword(password);
    const entry = await this.catalog.transaction(async (tx) => {
      const rows = await tx.query<{ n: number }>('SELECT COUNT(*) AS n FROM users FOR UPDATE');
      if (Number(rows[0]?.n) > 0) throw conflict('the first administrator already exists; sign in instead');
      await this.users.insert({ username, passwordHash, role: 'admin' }, tx);
      return this.audit.record({ actor, action: 'setup.first_admin', target: `user:${username}`, ip: ctx.ip ?? null }, tx);
    }, { retryDeadlock: true });
    this.audit.announce(entry);
    this.setupDone = true;
    const user = await this.users.byUsername(username);
    return this.issue(publicUser(user!), 'cookie', ctx);
  }

  async login(username: string, password: string, kind: SessionKind, ctx: ClientContext): Promise<IssuedSession> {
    // The user the catalog resolves the name to, whatever its spelling (case, accents, spaces).
    const user = await this.users.byUsername(username);
    const userKey = [loginThrottleKey(username, user?.id)];
    const ipKey = ctx.ip ? [ctx.ip] : [];
    const wait = Math.max(this.throttles.user.retryAfterMs(userKey), this.throttles.ip.retryAfterMs(ipKey));
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000);
      throw new AppError(429, 'TOO_MANY_ATTEMPTS', `too many failed sign-in attempts; try again in ${seconds} seconds`, undefined, {
        'retry-after': String(seconds),
      });
    }
    // Verify against a dummy hash for unknown users so response time does not reveal who exists.
    const ok = await verifyPassword(password, user?.passwordHash ?? (await DUMMY_HASH_PROMISE));
    if (!user || !ok) {
      this.throttles.user.fail(userKey);
      this.throttles.ip.fail(ipKey);
      await this.audit.record({ actor: username.slice(0, 64), action: 'auth.login_failed', ip: ctx.ip ?? null });
      throw new AppError(401, 'INVALID_CREDENTIALS', 'wrong username or password');
    }
    this.throttles.user.succeed(userKey);
    await this.users.touchLogin(user.id);
    await this.audit.record({ actor: user.username, action: 'auth.login', details: { via: kind }, ip: ctx.ip ?? null });
    return this.issue(publicUser({ ...user, lastLoginAt: new Date().toISOString() }), kind, ctx);
  }

  async authenticate(token: string): Promise<Principal | undefined> {
    const session = await this.sessions.findValid(token);
    if (!session) return undefined;
    const user = await this.users.byId(session.user_id);
    if (!user) return undefined;
    if (session.kind === 'cookie' && Date.now() - session.last_seen_at.getTime() > SLIDE_AFTER_MS) {
      await this.sessions.extend(session.id, new Date(Date.now() + COOKIE_SESSION_TTL_MS)).catch((err: unknown) => {
        this.logger.warn({ err }, 'could not extend a session');
      });
    }
    return { user: publicUser(user), sessionId: session.id, kind: session.kind };
  }

  async logout(token: string, principal: Principal, ctx: ClientContext): Promise<void> {
    await this.sessions.deleteByToken(token);
    await this.audit.record({ actor: principal.user.username, action: 'auth.logout', ip: ctx.ip ?? null });
  }

  async purgeExpiredSessions(): Promise<number> {
    return this.sessions.deleteExpired();
  }

  private async issue(user: User, kind: SessionKind, ctx: ClientContext): Promise<IssuedSession> {
    const ttlMs = kind === 'cookie' ? COOKIE_SESSION_TTL_MS : TOKEN_SESSION_TTL_MS;
    const { token, expiresAt } = await this.sessions.create({ userId: user.id, kind, ttlMs, ...ctx });
    return { user, token, kind, expiresAt };
  }

  static unauthenticated(): AppError {
    return unauthorized('sign in first: this request carries no valid session or token');
  }
}
