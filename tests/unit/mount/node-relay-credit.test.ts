/**
 * A stream from a node's mount to an HTTP client: the node (CreditSink) sends no byte the
 * server (NodeRelay) has not granted, and the server grants more only as its consumer
 * reads — so a slow client holds the node back and the bytes in flight stay under one
 * window, however large the file.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import type { NodeToServer, ServerToNode } from '../../../common/node-protocol.js';
import { NodeRelay, RelayError } from '../../../electron/server/nodes/node-relay.js';
import { CreditSink } from '../../../common/net/credit-sink.js';

const MiB = 1024 * 1024;
const WINDOW = 2 * MiB;

/** A node answering streams with `size` bytes of a counter pattern, wired to a relay in memory. */
function wire(size: number) {
  const sinks = new Map<number, CreditSink>();
  let inFlight = 0;
  let maxInFlight = 0;
  let sent = 0;
  let cancelled = 0;
  const relay: NodeRelay = new NodeRelay((_nodeId, msg: ServerToNode) => {
    queueMicrotask(() => {
      if (msg.type === 'mount.stream') {
        const sink = new CreditSink(msg.callId, msg.credit, (frame) => {
          inFlight += frame.length - 4;
          sent += frame.length - 4;
          maxInFlight = Math.max(maxInFlight, inFlight);
          // The "network": frames arrive a tick later.
          setImmediate(() => {
            inFlight -= frame.length - 4;
            relay.onFrame(1, frame);
          });
          return true;
        });
        sinks.set(msg.callId, sink);
        relay.onMessage(1, { type: 'stream.head', callId: msg.callId, size } satisfies NodeToServer);
        let at = 0;
        const source = new Readable({
          read() {
            if (at >= size) return void this.push(null);
            const n = Math.min(256 * 1024, size - at);
            const b = Buffer.alloc(n);
            for (let i = 0; i < n; i += 4096) b.writeUInt32BE((at + i) >>> 0, i);
            at += n;
            this.push(b);
          },
        });
        void pipeline(source, sink).then(
          () => setImmediate(() => setImmediate(() => relay.onMessage(1, { type: 'stream.end', callId: msg.callId }))),
          () => undefined,
        );
      } else if (msg.type === 'stream.credit') {
        sinks.get(msg.callId)?.addCredit(msg.bytes);
      } else if (msg.type === 'stream.cancel') {
        cancelled += 1;
        sinks.get(msg.callId)?.destroy();
      }
    });
    return true;
  });
  return { relay, stats: () => ({ maxInFlight, sent, cancelled }) };
}

describe('credit-paced streams between a node and the server', () => {
  it('delivers every byte in order, and a slow reader keeps the node within one window', async () => {
    const size = 64 * MiB + 12345;
    const { relay, stats } = wire(size);
    const { head, body } = await relay.stream(1, 7, 'read', { path: 'vda1/big' });
    expect(head.size).toBe(size);
    let received = 0;
    let ok = true;
    let maxBuffered = 0;
    await pipeline(
      body,
      new Writable({
        highWaterMark: 64 * 1024,
        write(chunk: Buffer, _e, done) {
          for (let i = (4096 - (received % 4096)) % 4096; i + 4 <= chunk.length; i += 4096) if (chunk.readUInt32BE(i) !== (received + i) >>> 0) ok = false;
          received += chunk.length;
          maxBuffered = Math.max(maxBuffered, body.readableLength);
          // A slow client: every chunk takes a while to "send".
          setTimeout(done, 0);
        },
      }),
    );
    expect(received).toBe(size);
    expect(ok).toBe(true);
    // Never more than the window on the wire, nor in the server's buffer.
    expect(stats().maxInFlight).toBeLessThanOrEqual(WINDOW);
    expect(maxBuffered).toBeLessThanOrEqual(WINDOW + 256 * 1024);
  });

  it('stops the node when the client goes away', async () => {
    const { relay, stats } = wire(256 * MiB);
    const { body } = await relay.stream(1, 7, 'read', { path: 'vda1/big' });
    let got = 0;
    for await (const chunk of body) {
      got += (chunk as Buffer).length;
      if (got > 4 * MiB) break; // breaking out of for-await destroys the stream
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(stats().cancelled).toBe(1);
    // The node sent at most what was granted before the cancel: nowhere near the file.
    expect(stats().sent).toBeLessThan(16 * MiB);
  });

  it('fails waiting calls and streams when the node goes away', async () => {
    const relay = new NodeRelay(() => true);
    const call = relay.call(3, 1, 'list', {});
    const stream = relay.stream(3, 1, 'read', {});
    relay.nodeGone(3);
    await expect(call).rejects.toBeInstanceOf(RelayError);
    await expect(stream).rejects.toMatchObject({ code: 'NODE_OFFLINE' });
  });

  it('says at once when the node is not connected', async () => {
    const relay = new NodeRelay(() => false);
    await expect(relay.call(3, 1, 'list', {})).rejects.toMatchObject({ code: 'NODE_OFFLINE' });
  });
});
