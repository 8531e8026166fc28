import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { EnrollResponseSchema, type EnrollResponse } from '../../common/api/nodes.js';
import { normalizeFingerprint } from '../../common/fingerprint.js';
import { PinnedAgent } from '../../common/net/pinned-agent.js';
import { saveNodeConfig, type NodeConfig } from './node-config.js';

export interface EnrollOptions {
  server: string;
  token: string;
  fingerprint: string;
  configPath: string;
  name?: string;
  stagingDir?: string;
  version: string;
  maxConcurrentTasks?: number;
}

/** Trades a one-time token for this node's credential and writes the node's config. */
export async function enrollNode(o: EnrollOptions): Promise<NodeConfig> {
  const fingerprint = normalizeFingerprint(o.fingerprint);
  const serverUrl = new URL(o.server).origin;
  const name = o.name ?? os.hostname();
  const res = await postJson(`${serverUrl}/api/node/enroll`, { token: o.token, name, host: os.hostname(), version: o.version }, new PinnedAgent(fingerprint, { keepAlive: false }));
  const parsed = EnrollResponseSchema.safeParse(res);
  if (!parsed.success) throw new Error('the server answered the enrollment with something unexpected');
  const enrolled: EnrollResponse = parsed.data;
  const config: NodeConfig = {
    serverUrl,
    fingerprint,
    nodeId: enrolled.nodeId,
    name: enrolled.name,
    credential: enrolled.credential,
    stagingDir: path.resolve(o.stagingDir ?? path.join(path.dirname(o.configPath), 'staging')),
    maxConcurrentTasks: o.maxConcurrentTasks ?? 2,
  };
  await saveNodeConfig(o.configPath, config);
  return config;
}

function postJson(url: string, body: unknown, agent: https.Agent): Promise<unknown> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: { message?: string } | undefined;
        try {
          json = JSON.parse(text) as { message?: string };
        } catch {
          json = undefined;
        }
        if ((res.statusCode ?? 500) >= 400) reject(new Error(`enrollment refused: ${json?.message ?? `HTTP ${res.statusCode}`}`));
        else resolve(json);
      });
    });
    req.on('error', (err) => reject(new Error(`cannot reach the server at ${url}: ${err.message}`)));
    req.end(payload);
  });
}
