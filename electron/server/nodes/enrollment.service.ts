import { randomBytes } from 'node:crypto';
import type { EnrollResponse } from '../../../common/api/nodes.js';
import { hashToken } from '../auth/sessions.repository.js';
import type { AuditService } from '../auth/audit.service.js';
import type { Catalog } from '../db/catalog.js';
import { AppError, conflict } from '../errors.js';
import type { NodesRepository } from './nodes.repository.js';

export const ENROLLMENT_TOKEN_TTL_MS = 30 * 60_000;

/**
 * One-time enrollment tokens (short-lived, single use) traded by a node for
 * its own long-lived credential. Only hashes of either are stored.
 */
export class EnrollmentService {
  constructor(
    private readonly catalog: Catalog,
    private readonly nodes: NodesRepository,
    private readonly audit: AuditService,
  ) {}

  async createToken(createdBy: string, nodeId: number | null = null): Promise<{ token: string; expiresAt: Date }> {
    const token = `vpe_${randomBytes(24).toString('base64url')}`;
    const expiresAt = new Date(Date.now() + ENROLLMENT_TOKEN_TTL_MS);
    await this.catalog.execute('INSERT INTO enrollment_tokens (token_hash, created_by, node_id, expires_at) VALUES (?, ?, ?, ?)', [
      hashToken(token),
      createdBy,
      nodeId,
      expiresAt,
    ]);
    if (nodeId === null) await this.audit.record({ actor: createdBy, action: 'node.token_create', details: { expiresAt: expiresAt.toISOString() } });
    return { token, expiresAt };
  }

  async enroll(req: { token: string; name: string; host: string; version: string }, ip?: string): Promise<EnrollResponse> {
    const credential = `vpn_${randomBytes(32).toString('base64url')}`;
    const result = await this.catalog.transaction(async (tx) => {
      const rows = await tx.query<{ id: number; node_id: number | null; used_at: Date | null; expires_at: Date }>(
        'SELECT id, node_id, used_at, expires_at FROM enrollment_tokens WHERE token_hash = ? FOR UPDATE',
        [hashToken(req.token)],
      );
      const tok = rows[0];
      if (!tok) throw new AppError(401, 'ENROLLMENT_TOKEN_INVALID', 'the enrollment token is not valid; create a new one with "vplus node token create"');
      if (tok.used_at) throw new AppError(401, 'ENROLLMENT_TOKEN_USED', 'the enrollment token was already used; create a new one');
      if (tok.expires_at.getTime() < Date.now()) throw new AppError(401, 'ENROLLMENT_TOKEN_EXPIRED', 'the enrollment token has expired; create a new one');
      await tx.execute('UPDATE enrollment_tokens SET used_at = CURRENT_TIMESTAMP(3) WHERE id = ?', [tok.id]);
      let nodeId = tok.node_id;
      if (nodeId === null) {
        if (await this.nodes.byName(req.name, tx)) throw conflict(`a node named "${req.name}" already exists; choose another name`, 'name');
        nodeId = await this.nodes.insert({ name: req.name, host: req.host, status: 'offline', installMethod: 'manual' }, tx);
      }
      await this.nodes.setCredential(nodeId, hashToken(credential), { host: req.host, version: req.version }, tx);
      const node = (await this.nodes.byId(nodeId, tx))!;
      const entry = await this.audit.record({ actor: `node:${node.name}`, action: 'node.enroll', target: `node:${node.name}`, details: { host: req.host, version: req.version }, ip: ip ?? null }, tx);
      return { node, entry };
    });
    this.audit.announce(result.entry);
    return { nodeId: result.node.id, name: result.node.name, credential };
  }
}
