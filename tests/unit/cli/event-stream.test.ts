import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { eventsUrl, openEventStream } from '../../../cli/client/event-stream.js';
import type { ServerEvent } from '../../../common/api/index.js';
import { PinnedAgent } from '../../../common/net/pinned-agent.js';
import { removeTempDirs, sampleTask, startFakeApi, type FakeApiServer } from './helpers.js';

afterAll(removeTempDirs);

describe('the events WebSocket', () => {
  let api: FakeApiServer;
  let sockets: WebSocket[];
  let agent: PinnedAgent;

  beforeEach(async () => {
    sockets = [];
    api = await startFakeApi(() => ({ status: 404 }), { events: { token: 'good-token', onConnection: (s) => sockets.push(s) } });
    agent = new PinnedAgent(api.fingerprint);
  });
  afterEach(async () => {
    agent.destroy();
    await api.close();
  });

  it('maps the server URL to wss://…/api/events', () => {
    expect(eventsUrl('https://h:8181')).toBe('wss://h:8181/api/events');
    expect(eventsUrl('https://[::1]:8181')).toBe('wss://[::1]:8181/api/events');
  });

  it('delivers the events it understands, in order, also those that came before a listener', async () => {
    const stream = await openEventStream({ url: eventsUrl(api.url), agent, token: 'good-token' });
    expect(api.requests.at(-1)).toMatchObject({ method: 'UPGRADE', url: '/api/events', authorization: 'Bearer good-token' });
    const task = sampleTask({ state: 'RUNNING' });
    sockets[0]!.send(JSON.stringify({ type: 'hello', serverTime: '2025-01-31T10:00:00.000Z', user: 'admin' }));
    sockets[0]!.send('not json');
    sockets[0]!.send(JSON.stringify({ type: 'something.new', x: 1 }));
    sockets[0]!.send(JSON.stringify({ type: 'task', task }));
    await new Promise((r) => setTimeout(r, 50));
    const got: ServerEvent[] = [];
    stream.onEvent((e) => got.push(e));
    sockets[0]!.send(JSON.stringify({ type: 'task.log', taskId: 7, line: { id: 1, at: task.createdAt, level: 'info', message: 'hi' } }));
    await new Promise((r) => setTimeout(r, 50));
    expect(got.map((e) => e.type)).toEqual(['hello', 'task', 'task.log']);
    stream.close();
  });

  it('reports the end of a stream the server closed, but not one closed here', async () => {
    const dropped = await openEventStream({ url: eventsUrl(api.url), agent, token: 'good-token' });
    const reason = new Promise<string>((resolve) => dropped.onClose(resolve));
    sockets[0]!.terminate();
    expect(await reason).toMatch(/closed with code 1006/);

    const closedHere = await openEventStream({ url: eventsUrl(api.url), agent, token: 'good-token' });
    let told = false;
    closedHere.onClose(() => (told = true));
    closedHere.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(told).toBe(false);
  });

  it('refuses a server whose certificate is not the pinned one, before sending the token', async () => {
    const wrongPin = new PinnedAgent('ab'.repeat(32));
    try {
      await expect(openEventStream({ url: eventsUrl(api.url), agent: wrongPin, token: 'good-token' })).rejects.toThrow(/does not match the pinned/);
      expect(api.requests).toHaveLength(0);
    } finally {
      wrongPin.destroy();
    }
  });

  it('rejects when the upgrade is refused (a bad token, a proxy)', async () => {
    await expect(openEventStream({ url: eventsUrl(api.url), agent, token: 'expired' })).rejects.toThrow(
      'the server answered the WebSocket upgrade with HTTP 401',
    );
  });
});
