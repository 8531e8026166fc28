import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureServerTls } from '../../../electron/server/security/certificates.js';
import { NodeAgent } from '../../../node-service/agent/node-agent.js';
import { makeTempDir, waitFor } from '../../support/test-server.js';

/**
 * A server that refuses the node's WebSocket (503 while it stops, 401 for a revoked node):
 * the node keeps retrying instead of leaving the handshake hanging (and its process exiting).
 */
describe('a node whose connection is refused', () => {
  const dir = makeTempDir('refused');
  let server: https.Server;
  let url: string;
  let fingerprint: string;
  const attempts: number[] = [];

  beforeAll(async () => {
    const tls = await ensureServerTls(path.join(dir, 'tls'));
    fingerprint = tls.fingerprint;
    server = https.createServer({ key: tls.key, cert: tls.cert }, (_req, res) => {
      res.writeHead(404).end();
    });
    server.on('upgrade', (_req, socket) => {
      attempts.push(Date.now());
      socket.end('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps retrying with backoff', async () => {
    const agent = new NodeAgent({
      config: { serverUrl: url, fingerprint, nodeId: 1, name: 'n1', credential: 'x'.repeat(32), stagingDir: dir, maxConcurrentTasks: 1 },
      version: 'test',
      handlers: [],
      logger: pino({ level: 'silent' }),
      minBackoffMs: 50,
      maxBackoffMs: 100,
    });
    agent.start();
    try {
      // Before the fix the first refusal left the handshake open and nothing came after it.
      await waitFor('three connection attempts', async () => (attempts.length >= 3 ? true : undefined), 20_000);
    } finally {
      await agent.stop();
    }
    expect(attempts.length).toBeGreaterThanOrEqual(3);
  });
});
