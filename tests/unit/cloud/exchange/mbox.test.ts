/**
 * The mboxrd writer (node-service/cloud/exchange/mbox.ts): messages whose bodies hold "From "
 * lines (plain, already quoted, twice quoted), CRLF and LF line ends, unicode and an attachment
 * come back byte for byte (CRLF as LF) from a reader that undoes mboxrd, parse with mailparser
 * as the originals do, and the output does not depend on how the content was chunked.
 */
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { asctime, fromLine, writeMbox, type MboxMessage } from '../../../../node-service/cloud/exchange/mbox.js';
import { composeMime } from '../../../support/graph-emulator/index.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Reads mboxrd back: a "From " line after a blank line (or first) starts a message; one ">" comes off quoted From lines. */
function readMbox(buf: Buffer): { separator: string; mime: Buffer }[] {
  const lines = buf.toString('latin1').split('\n');
  if (lines.at(-1) === '') lines.pop();
  const out: { separator: string; lines: string[] }[] = [];
  lines.forEach((l, i) => {
    if (l.startsWith('From ') && (i === 0 || lines[i - 1] === '')) out.push({ separator: l, lines: [] });
    else out.at(-1)!.lines.push(/^>+From /.test(l) ? l.slice(1) : l);
  });
  // Each message's last line is the blank line that follows it.
  return out.map((m) => ({ separator: m.separator, mime: Buffer.from(m.lines.slice(0, -1).map((l) => `${l}\n`).join(''), 'latin1') }));
}

async function* chunked(b: Buffer, sizes: () => number): AsyncGenerator<Buffer> {
  for (let i = 0; i < b.length; ) {
    const n = Math.max(1, sizes());
    yield b.subarray(i, i + n);
    i += n;
  }
}

async function mbox(messages: { mime: Buffer; from: string | null; date: Date | null }[], sizes: () => number): Promise<Buffer> {
  const out = new PassThrough();
  const parts: Buffer[] = [];
  out.on('data', (b: Buffer) => parts.push(b));
  async function* source(): AsyncGenerator<MboxMessage> {
    for (const m of messages) yield { from: m.from, date: m.date, mime: chunked(m.mime, sizes) };
  }
  const r = await writeMbox(source(), out);
  out.end();
  const all = Buffer.concat(parts);
  expect(r).toEqual({ messages: messages.length, bytes: all.length });
  return all;
}

const lf = (b: Buffer): Buffer => {
  const s = b.toString('latin1').replace(/\r\n/g, '\n');
  return Buffer.from(s.endsWith('\n') ? s : `${s}\n`, 'latin1');
};

describe('mboxrd', () => {
  it('asctime and the From line', () => {
    expect(asctime(new Date('2024-01-02T09:59:00Z'))).toBe('Tue Jan  2 09:59:00 2024');
    expect(asctime(new Date('2023-12-25T23:05:09Z'))).toBe('Mon Dec 25 23:05:09 2023');
    expect(fromLine('bob@example.com', new Date('2024-01-02T09:59:00Z'))).toBe('From bob@example.com Tue Jan  2 09:59:00 2024\n');
    expect(fromLine(null, null)).toBe('From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n');
    expect(fromLine('a b\r\n@x', null)).toMatch(/^From ab@x /);
  });

  it('round-trips messages with From lines, CRLF and LF, unicode and an attachment, however chunked', async () => {
    const fromLines = Buffer.from(
      [
        'From: Bob <bob@example.com>',
        'To: alice@example.com',
        'Subject: From lines',
        'Date: Tue, 02 Jan 2024 09:59:00 +0000',
        'Message-ID: <from-lines@example.com>',
        'Content-Type: text/plain; charset=utf-8',
        'Content-Transfer-Encoding: 8bit',
        '',
        'From the start of a line',
        '>From already quoted',
        '>>From twice quoted',
        'not From here',
        'From',
        '',
        'From after a blank line',
        'a lone \r in a line',
        'the last line has no line end',
      ].join('\r\n'),
    );
    const unicode = await composeMime({
      subject: 'Grüße aus Köln — 日本語 ✓',
      from: { name: 'Zoë Ünal', address: 'zoe@example.com' },
      to: [{ address: 'alice@example.com' }],
      date: new Date('2024-02-03T04:05:06Z'),
      messageId: '<unicode@example.com>',
      text: 'From Köln with ✓\nFrom here too\n',
      attachments: [{ name: 'café ☕.bin', content: Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 256)) }],
    });
    const lfOnly = Buffer.from('From: x@example.com\nSubject: LF only\nDate: Wed, 01 May 2024 10:00:00 +0000\n\nFrom me\n>From you\n');
    const messages = [
      { mime: fromLines, from: 'bob@example.com', date: new Date('2024-01-02T09:59:00Z') },
      { mime: unicode, from: 'zoe@example.com', date: new Date('2024-02-03T04:05:06Z') },
      { mime: lfOnly, from: null, date: null },
    ];
    const whole = await mbox(messages, () => 1 << 20);
    const single = await mbox(messages, () => 1);
    let seed = 7;
    const random = await mbox(messages, () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 97);
    expect(sha(single)).toBe(sha(whole));
    expect(sha(random)).toBe(sha(whole));

    const text = whole.toString('utf8');
    expect(text.startsWith('From bob@example.com Tue Jan  2 09:59:00 2024\n')).toBe(true);
    expect(text).toContain('\n>From the start of a line\n>>From already quoted\n>>>From twice quoted\nnot From here\nFrom\n\n>From after a blank line\n');
    expect(text).not.toContain('\r\n');
    expect(text).toContain('\n\nFrom MAILER-DAEMON Thu Jan  1 00:00:00 1970\n');

    const back = readMbox(whole);
    expect(back.map((m) => m.separator)).toEqual(['From bob@example.com Tue Jan  2 09:59:00 2024', 'From zoe@example.com Sat Feb  3 04:05:06 2024', 'From MAILER-DAEMON Thu Jan  1 00:00:00 1970']);
    back.forEach((m, i) => expect(m.mime.equals(lf(messages[i]!.mime)), `message ${i}`).toBe(true));
    for (const [i, m] of back.entries()) {
      const [a, b] = [await simpleParser(m.mime), await simpleParser(messages[i]!.mime)];
      expect(a.subject).toBe(b.subject);
      // mbox ends every message with a line end: a last line without one gains it.
      expect(a.text?.replace(/\r\n/g, '\n').trimEnd()).toBe(b.text?.replace(/\r\n/g, '\n').trimEnd());
      expect(a.attachments.map((x) => [x.filename, sha(x.content)])).toEqual(b.attachments.map((x) => [x.filename, sha(x.content)]));
    }
    expect((await simpleParser(back[1]!.mime)).subject).toBe('Grüße aus Köln — 日本語 ✓');
    expect((await simpleParser(back[0]!.mime)).text).toContain('From the start of a line\n>From already quoted\n>>From twice quoted');
  });

  it('stops when cancelled', async () => {
    const ac = new AbortController();
    ac.abort(new Error('cancelled by the test'));
    async function* one(): AsyncGenerator<MboxMessage> {
      yield { from: null, date: null, mime: chunked(Buffer.from('Subject: x\n\nbody\n'), () => 4) };
    }
    await expect(writeMbox(one(), new PassThrough(), ac.signal)).rejects.toThrow('cancelled by the test');
  });
});
