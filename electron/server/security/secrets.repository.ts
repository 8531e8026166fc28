import type { Sql } from '../db/catalog.js';
import type { SecretBox } from './secret-box.js';

/**
 * Named secrets in the catalog, sealed with the data dir's key and bound to
 * their name. Nothing in the API ever returns them.
 */
export class SecretsRepository {
  constructor(
    private readonly sql: Sql,
    private readonly box: SecretBox,
  ) {}

  async put(name: string, value: string, sql: Sql = this.sql): Promise<void> {
    await sql.execute('INSERT INTO secrets (name, ciphertext) VALUES (?, ?) ON DUPLICATE KEY UPDATE ciphertext = VALUES(ciphertext)', [
      name,
      this.box.encrypt(value, name),
    ]);
  }

  async get(name: string): Promise<string | undefined> {
    const rows = await this.sql.query<{ ciphertext: string }>('SELECT ciphertext FROM secrets WHERE name = ?', [name]);
    return rows[0] ? this.box.decrypt(rows[0].ciphertext, name) : undefined;
  }

  async delete(name: string, sql: Sql = this.sql): Promise<void> {
    await sql.execute('DELETE FROM secrets WHERE name = ?', [name]);
  }
}
