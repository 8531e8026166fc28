import { describe, expect, it } from 'vitest';
import { parseCatalogChoice } from '../../../../electron/main/catalog-choice.js';

describe('parseCatalogChoice (what the first-run page may send)', () => {
  it('accepts the managed catalog', () => {
    expect(parseCatalogChoice({ mode: 'managed' })).toEqual({ choice: { mode: 'managed' }, result: { ok: true } });
  });

  it('accepts a remote mariadb:// URL, trimmed', () => {
    expect(parseCatalogChoice({ mode: 'remote', dbUrl: ' mariadb://vplus:pw@db.lan:3306/vplus ' }).choice).toEqual({
      mode: 'remote',
      dbUrl: 'mariadb://vplus:pw@db.lan:3306/vplus',
    });
  });

  it.each([
    [{ mode: 'remote', dbUrl: '' }, /enter the MariaDB server's URL/],
    [{ mode: 'remote', dbUrl: 'mysql://u:p@h/db' }, /must start with mariadb:\/\//],
    [{ mode: 'remote', dbUrl: 'mariadb://u:p@h:3306' }, /needs a host and a database/],
    [{ mode: 'remote' }, /./],
    [{ mode: 'cloud' }, /./],
    [{ mode: 'managed', dbUrl: 'mariadb://h/db' }, /./],
    ['managed', /./],
    [null, /./],
  ])('refuses %j with a message', (input, message) => {
    const { result } = parseCatalogChoice(input);
    expect(result.ok).toBe(false);
    expect(result.ok === false && result.message).toMatch(message);
  });
});
