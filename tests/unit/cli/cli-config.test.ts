import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliConfigPath, readCliConfig, writeCliConfig } from '../../../cli/client/cli-config.js';
import { CliError } from '../../../cli/errors.js';
import { tempDir, removeTempDirs } from './helpers.js';

afterAll(removeTempDirs);

const mode = (p: string): number => fs.statSync(p).mode & 0o777;

describe('cliConfigPath', () => {
  it('defaults to ~/.config/vplus/cli.json', () => {
    expect(cliConfigPath({}, '/home/ann')).toBe('/home/ann/.config/vplus/cli.json');
  });

  it('respects XDG_CONFIG_HOME', () => {
    expect(cliConfigPath({ XDG_CONFIG_HOME: '/xdg' }, '/home/ann')).toBe('/xdg/vplus/cli.json');
  });

  it('ignores a relative XDG_CONFIG_HOME, as the XDG spec says', () => {
    expect(cliConfigPath({ XDG_CONFIG_HOME: 'rel' }, '/home/ann')).toBe('/home/ann/.config/vplus/cli.json');
  });

  it('lets VPLUS_CONFIG override everything', () => {
    expect(cliConfigPath({ VPLUS_CONFIG: '/tmp/x.json', XDG_CONFIG_HOME: '/xdg' }, '/home/ann')).toBe('/tmp/x.json');
  });
});

describe('readCliConfig / writeCliConfig', () => {
  it('reads a missing file as an empty config', async () => {
    expect(await readCliConfig(path.join(tempDir('cfg'), 'nope.json'))).toEqual({});
  });

  it('round-trips, with the file 0600 and a created directory 0700', async () => {
    const file = path.join(tempDir('cfg'), 'vplus', 'cli.json');
    const config = {
      server: 'https://backup.example:8181',
      fingerprint: 'AB:'.repeat(31) + 'AB',
      token: 'secret-token',
      user: 'admin',
    };
    await writeCliConfig(file, config);
    expect(await readCliConfig(file)).toEqual(config);
    expect(mode(file)).toBe(0o600);
    expect(mode(path.dirname(file))).toBe(0o700);
  });

  it('makes a replaced file 0600 even when the old one was world-readable', async () => {
    const dir = tempDir('cfg');
    const file = path.join(dir, 'cli.json');
    fs.writeFileSync(file, '{"server":"https://old:8181"}', { mode: 0o644 });
    fs.chmodSync(file, 0o644);
    await writeCliConfig(file, { server: 'https://new:8181', token: 't' });
    expect(mode(file)).toBe(0o600);
    expect((await readCliConfig(file)).server).toBe('https://new:8181');
  });

  it('leaves no temporary files behind', async () => {
    const dir = tempDir('cfg');
    const file = path.join(dir, 'cli.json');
    await writeCliConfig(file, { server: 'https://a:8181' });
    await writeCliConfig(file, { server: 'https://b:8181' });
    expect(fs.readdirSync(dir)).toEqual(['cli.json']);
  });

  it('keeps keys it does not know (written by a newer CLI)', async () => {
    const file = path.join(tempDir('cfg'), 'cli.json');
    fs.writeFileSync(file, JSON.stringify({ server: 'https://a:8181', futureSetting: { x: 1 } }));
    const read = await readCliConfig(file);
    await writeCliConfig(file, { ...read, token: 't' });
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ server: 'https://a:8181', futureSetting: { x: 1 }, token: 't' });
  });

  it('refuses a corrupt file with a sentence naming it', async () => {
    const file = path.join(tempDir('cfg'), 'cli.json');
    fs.writeFileSync(file, '{ not json');
    await expect(readCliConfig(file)).rejects.toThrow(CliError);
    await expect(readCliConfig(file)).rejects.toThrow(`${file} is not valid JSON`);
  });

  it('refuses a file of the wrong shape', async () => {
    const file = path.join(tempDir('cfg'), 'cli.json');
    fs.writeFileSync(file, JSON.stringify({ server: 42 }));
    await expect(readCliConfig(file)).rejects.toThrow(/is not a vplus client config/);
  });

  it('reports an unwritable location as a CliError', async () => {
    const dir = tempDir('cfg');
    const blocker = path.join(dir, 'file');
    fs.writeFileSync(blocker, '');
    await expect(writeCliConfig(path.join(blocker, 'cli.json'), {})).rejects.toThrow(/cannot save the client config/);
  });
});
