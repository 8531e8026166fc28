import type { Logger } from 'pino';
import type { AuditEntry } from '../../../common/api/audit.js';
import type { Sql } from '../db/catalog.js';
import type { EventBus } from '../events/event-bus.js';
import type { AuditRecordInput, AuditRepository } from './audit.repository.js';

/** Records who changed what, and tells live UIs about it. */
export class AuditService {
  constructor(
    private readonly repo: AuditRepository,
    private readonly bus: EventBus,
    private readonly logger: Logger,
  ) {}

  /** Pass `sql` to record inside the caller's transaction, so a change and its audit entry commit together. */
  async record(entry: AuditRecordInput, sql?: Sql): Promise<AuditEntry> {
    const saved = await this.repo.append(entry, sql);
    this.logger.info({ audit: { actor: saved.actor, action: saved.action, target: saved.target } }, 'audit');
    if (!sql) this.bus.publish({ type: 'audit', entry: saved });
    return saved;
  }

  /** Publish an entry recorded inside a transaction, after it committed. */
  announce(entry: AuditEntry): void {
    this.bus.publish({ type: 'audit', entry });
  }
}
