import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SetupCode } from '../../../electron/server/auth/setup-code.js';

describe('first-run setup code', () => {
  const dirs: string[] = [];
  const dir = (): string => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'vplus-setup-code-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  it('is written once for the owner only and kept across restarts until setup is done', async () => {
    const d = dir();
    const first = await SetupCode.ensure(d);
    expect(first.value).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
    expect(fs.statSync(first.file).mode & 0o777).toBe(0o600);
    expect((await SetupCode.ensure(d)).value).toBe(first.value);
    await first.consume();
    expect(fs.existsSync(first.file)).toBe(false);
    expect(first.value).toBeNull();
    // A new first run (the catalog emptied) gets a new code.
    expect((await SetupCode.ensure(d)).value).not.toBe(first.value);
  });

  it('accepts what a person types (any case, spaces or dashes, O for 0, I or L for 1) and nothing else', async () => {
    const code = await SetupCode.ensure(dir());
    const value = code.value!;
    expect(code.matches(value)).toBe(true);
    expect(code.matches(` ${value.toLowerCase().replaceAll('-', ' ')} `)).toBe(true);
    expect(code.matches(value.replaceAll('0', 'O').replaceAll('1', 'l'))).toBe(true);
    expect(code.matches(value.slice(0, -1))).toBe(false);
    const other = value.endsWith('2') ? '3' : '2';
    expect(code.matches(value.slice(0, -1) + other)).toBe(false);
    expect(code.matches('')).toBe(false);
    expect(SetupCode.none(dir()).matches(value)).toBe(false);
  });

  it('makes different codes each time', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) seen.add((await SetupCode.ensure(dir())).value!);
    expect(seen.size).toBe(20);
  });
});
