import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatFingerprint, normalizeFingerprint } from '../../../common/fingerprint.js';
import { hashPassword, verifyPassword } from '../../../electron/server/auth/password-hasher.js';
import { LoginThrottle, loginThrottleKey, USER_THROTTLE } from '../../../electron/server/auth/login-throttle.js';
import { BootConfigError, parseBootConfig } from '../../../electron/server/boot-config.js';
import { parseVersion, poolConfigFromUrl } from '../../../electron/server/db/catalog.js';
import { SecretBox, SecretKeyError } from '../../../electron/server/security/secret-box.js';

describe('secret box', () => {
  it('round-trips, binds ciphertext to its name, detects tampering, and keeps its key 0600', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vplus-box-'));
    const keyFile = path.join(dir, 'secret.key');
    const box = await SecretBox.open(keyFile);
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
    const sealed = box.encrypt('ssh-password', 'node:1');
    expect(sealed).not.toContain('ssh-password');
    expect(box.decrypt(sealed, 'node:1')).toBe('ssh-password');
    expect(() => box.decrypt(sealed, 'node:2')).toThrow(SecretKeyError);
    const raw = Buffer.from(sealed.slice(3), 'base64');
    raw[raw.length - 1]! ^= 1;
    expect(() => box.decrypt(`v1:${raw.toString('base64')}`, 'node:1')).toThrow(SecretKeyError);
    // Reopening uses the same key; a different key cannot read it.
    expect((await SecretBox.open(keyFile)).decrypt(sealed, 'node:1')).toBe('ssh-password');
    const other = await SecretBox.open(path.join(dir, 'other.key'));
    expect(() => other.decrypt(sealed, 'node:1')).toThrow(/does not match/);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('password hashing', () => {
  it('verifies the right password only, with a fresh salt each time', async () => {
    const a = await hashPassword('correct horse');
    const b = await hashPassword('correct horse');
    expect(a).not.toBe(b);
    expect(a.startsWith('scrypt$')).toBe(true);
    expect(await verifyPassword('correct horse', a)).toBe(true);
    expect(await verifyPassword('correct horsE', a)).toBe(false);
    expect(await verifyPassword('x', 'garbage')).toBe(false);
  });
});

describe('login throttle', () => {
  it('counts by account for a known user, and by name key for an unknown name', () => {
    expect(loginThrottleKey('VÍCTIM ', 7)).toBe('user:7');
    expect(loginThrottleKey('victim', 7)).toBe('user:7');
    expect(loginThrottleKey(' Vïctim', undefined)).toBe(loginThrottleKey('victim', undefined));
    expect(loginThrottleKey('victim2', undefined)).not.toBe(loginThrottleKey('victim', undefined));
  });

  it('locks after the free attempts, doubles the lock, and forgets after success', () => {
    let now = 1_000_000;
    const throttle = new LoginThrottle({ now: () => now }, USER_THROTTLE);
    for (let i = 0; i < USER_THROTTLE.freeAttempts - 1; i++) throttle.fail(['bob']);
    expect(throttle.retryAfterMs(['bob'])).toBe(0);
    throttle.fail(['bob']);
    expect(throttle.retryAfterMs(['bob'])).toBe(USER_THROTTLE.baseLockMs);
    expect(throttle.retryAfterMs(['alice'])).toBe(0);
    now += USER_THROTTLE.baseLockMs;
    throttle.fail(['bob']);
    expect(throttle.retryAfterMs(['bob'])).toBe(USER_THROTTLE.baseLockMs * 2);
    throttle.succeed(['bob']);
    expect(throttle.retryAfterMs(['bob'])).toBe(0);
  });
});

describe('catalog helpers', () => {
  it('reads engine and version from VERSION()', () => {
    expect(parseVersion('10.11.6-MariaDB-0+deb12u1')).toEqual({ engine: 'MariaDB', version: '10.11.6' });
    expect(parseVersion('11.4.2-MariaDB')).toEqual({ engine: 'MariaDB', version: '11.4.2' });
  });

  it('parses remote URLs with encoded passwords and TLS options', () => {
    const c = poolConfigFromUrl('mariadb://vplus:p%40ss%3Aword@db.office.lan:3307/catalog?ssl=true&sslVerify=false');
    expect(c).toMatchObject({ host: 'db.office.lan', port: 3307, user: 'vplus', password: 'p@ss:word', database: 'catalog', ssl: { rejectUnauthorized: false } });
    expect(poolConfigFromUrl('mariadb://u:p@h/db').ssl).toBeUndefined();
    expect(() => poolConfigFromUrl('mariadb://u:p@h:3306/')).toThrow(/names no database/);
    expect(() => poolConfigFromUrl('mysql://u:p@h/db')).toThrow(/must start with mariadb/);
  });
});

describe('boot config', () => {
  it('applies defaults and rejects bad values with the setting named', () => {
    const c = parseBootConfig({ dataDir: 'rel/dir' });
    expect(c.port).toBe(8181);
    expect(path.isAbsolute(c.dataDir)).toBe(true);
    expect(() => parseBootConfig({ port: 70000 })).toThrow(BootConfigError);
    expect(() => parseBootConfig({ port: 70000 })).toThrow(/port/);
    expect(() => parseBootConfig({ dbUrl: 'postgres://x' })).toThrow(/dbUrl.*mariadb:\/\//);
  });
});

describe('fingerprints', () => {
  it('accepts any case with or without colons and rejects non-SHA-256 input', () => {
    const hex = 'ab'.repeat(32);
    expect(normalizeFingerprint(hex.toUpperCase().match(/../g)!.join(':'))).toBe(hex);
    expect(formatFingerprint(hex)).toBe('AB:'.repeat(31) + 'AB');
    expect(() => normalizeFingerprint('abc')).toThrow(/not a SHA-256 fingerprint/);
  });
});
