import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeStartError } from '../../../cli/commands/server.command.js';
import type { RunningServerHandle, ServerModule } from '../../../cli/context.js';
import type { BootConfig } from '../../../electron/server/boot-config.js';
import { startVplus, tempDir, removeTempDirs } from './helpers.js';

afterAll(removeTempDirs);

const FP = 'ab'.repeat(32);

function fakeServer(options: { fail?: Error } = {}): { module: ServerModule; configs: BootConfig[]; closed: () => number } {
  const configs: BootConfig[] = [];
  let closed = 0;
  const module: ServerModule = {
    startServer(config) {
      configs.push(config);
      if (options.fail) return Promise.reject(options.fail);
      const handle: RunningServerHandle = {
        url: `https://localhost:${config.port}`,
        port: config.port,
        fingerprint: FP,
        dataDir: config.dataDir,
        close: () => {
          closed++;
          return Promise.resolve();
        },
      };
      return Promise.resolve(handle);
    },
  };
  return { module, configs, closed: () => closed };
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!condition()) throw new Error('condition not reached');
}

describe('vplus server start', () => {
  it('passes flags and VPLUS_DB_URL to the boot config, prints URL and fingerprint, and stops cleanly on SIGINT', async () => {
    const server = fakeServer();
    const dataDir = tempDir('data');
    const cli = startVplus(
      ['server', 'start', '--data-dir', dataDir, '--port', '9443', '--bind', '127.0.0.1', '--admin-password-file', 'pw.txt', '--log-level', 'warn'],
      { env: { VPLUS_DB_URL: 'mariadb://u:p@db:3306/vplus' }, loadServer: () => Promise.resolve(server.module) },
    );
    await until(() => cli.output().stdout.includes('fingerprint'));
    expect(server.configs[0]).toMatchObject({
      dataDir,
      port: 9443,
      bind: '127.0.0.1',
      dbUrl: 'mariadb://u:p@db:3306/vplus',
      adminPasswordFile: path.resolve('pw.txt'),
      logLevel: 'warn',
    });
    expect(cli.output().stdout).toBe(
      'vPlus server is running at https://localhost:9443\n' +
        `Certificate SHA-256 fingerprint: ${FP.toUpperCase().match(/.{2}/g)!.join(':')}\n` +
        `Data directory: ${dataDir}\n`,
    );
    cli.signal('SIGINT');
    const run = await cli.done;
    expect(run.code).toBe(0);
    expect(server.closed()).toBe(1);
    expect(run.stderr).toContain('SIGINT received; stopping the server');
  });

  it('counts a Ctrl-C that arrives twice at once (terminal + parent) as one', async () => {
    const server = fakeServer();
    const cli = startVplus(['server', 'start', '--data-dir', tempDir('data')], { loadServer: () => Promise.resolve(server.module) });
    await until(() => cli.output().stdout.includes('running'));
    cli.signal('SIGINT');
    cli.signal('SIGINT');
    const run = await cli.done;
    expect(run.code).toBe(0);
    expect(run.forcedExits).toEqual([]);
  });

  it('--db-url wins over VPLUS_DB_URL', async () => {
    const server = fakeServer();
    const cli = startVplus(['server', 'start', '--data-dir', tempDir('data'), '--db-url', 'mariadb://flag/db'], {
      env: { VPLUS_DB_URL: 'mariadb://env/db' },
      loadServer: () => Promise.resolve(server.module),
    });
    await until(() => server.configs.length > 0);
    cli.signal('SIGTERM');
    await cli.done;
    expect(server.configs[0]!.dbUrl).toBe('mariadb://flag/db');
  });

  it('a start failure is one sentence on stderr and exit 1', async () => {
    const server = fakeServer({ fail: Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE', syscall: 'listen' }) });
    const run = await startVplus(['server', 'start', '--data-dir', tempDir('data'), '--port', '8181'], {
      loadServer: () => Promise.resolve(server.module),
    }).done;
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      'error: port 8181 is already in use on 0.0.0.0; stop the program using it or choose another port with --port\n',
    );
    expect(run.stdout).toBe('');
  });

  it('describes other start failures', () => {
    const config = { port: 80, bind: '10.9.9.9' };
    expect(describeStartError(Object.assign(new Error('x'), { code: 'EACCES', syscall: 'listen' }), config)).toMatch(
      /^not allowed to listen on port 80; choose a port above 1023/,
    );
    expect(describeStartError(Object.assign(new Error('x'), { code: 'EADDRNOTAVAIL' }), config)).toBe(
      '10.9.9.9 is not an address of this machine; fix --bind',
    );
    expect(describeStartError(new Error('the catalog database is not reachable at db:3306'), config)).toBe(
      'the server could not start: the catalog database is not reachable at db:3306',
    );
  });
});
