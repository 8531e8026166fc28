/**
 * The mail preview (node-service/cloud/exchange/mail-preview.ts) on hostile and unicode
 * messages: script, event handlers, javascript: links, frames, forms, meta refresh, base and
 * remote CSS never reach the document; remote images are removed and counted; an inline cid:
 * image becomes a data: URI; a text-only message is escaped; messageDetail reads the fields of
 * a unicode message; hostile MIME (a huge header, broken encodings, names with ../ and NUL)
 * gives a MailContentError or a safe result, never another error.
 */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MailContentError, PREVIEW_CSP, attachmentContent, messageDetail, previewDocument } from '../../../../node-service/cloud/exchange/mail-preview.js';
import { composeMime } from '../../../support/graph-emulator/index.js';

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

const HOSTILE_HTML = [
  '<html><head><title>t</title><meta http-equiv="refresh" content="0;url=https://evil.example/refresh"><base href="https://evil.example/base/">',
  '<style>@import url(https://evil.example/import.css); body { background: url("http://evil.example/bg.png") } p { color: red } .x { background: \\75 rl(https://evil.example/escaped.png) }</style></head>',
  '<body onload="alert(0)"><p onclick="alert(1)">Hello <b>there</b></p>',
  '<script>alert(2)</script>',
  '<img src="x" onerror="alert(3)">',
  '<a href="javascript:alert(4)">bad link</a> <a href="JaVaScRiPt&colon;alert(5)">worse</a>',
  '<a href="https://example.com/page">good link</a>',
  '<img src="https://tracker.example/pixel.gif" width="1" height="1">',
  '<img src="//cdn.example/logo.png">',
  '<img src="cid:logo@example.com" alt="logo">',
  '<div style="background-image: url(https://evil.example/div.png); color: blue">styled</div>',
  '<iframe src="https://evil.example/frame"></iframe><object data="https://evil.example/x.swf"></object><embed src="https://evil.example/e">',
  '<form action="https://evil.example/post"><input name="q" value="v"><button>go</button></form>',
  '<svg><script>alert(6)</script></svg><math><mi xlink:href="javascript:alert(7)">m</mi></math>',
  '</body></html>',
].join('\n');

async function hostileMessage(): Promise<Buffer> {
  return composeMime({
    subject: 'Newsletter',
    from: { name: 'Spam', address: 'spam@evil.example' },
    to: [{ address: 'alice@example.com' }],
    html: HOSTILE_HTML,
    attachments: [{ name: 'logo.png', contentType: 'image/png', content: PNG, contentId: 'logo@example.com' }],
  });
}

/** Either a safe result or a MailContentError; any other error fails. */
async function safely<T>(p: Promise<T>): Promise<T | MailContentError> {
  try {
    return await p;
  } catch (err) {
    expect(err).toBeInstanceOf(MailContentError);
    return err as MailContentError;
  }
}

describe('previewDocument', () => {
  it('leaves out script, handlers, javascript: links, frames, forms, refresh, base and remote CSS; counts remote images; inlines cid images', async () => {
    const { html, remoteContentBlocked } = await previewDocument(await hostileMessage());
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('<meta http-equiv="Content-Security-Policy" content="default-src \'none\'');
    const body = html.slice(html.indexOf('<body>'));
    for (const bad of ['<script', 'alert(', 'onload', 'onclick', 'onerror', 'javascript', 'JaVaScRiPt', 'evil.example', 'tracker.example', 'cdn.example', '<iframe', '<object', '<embed', '<form', '<input', '<base', 'http-equiv="refresh"', '@import', '<svg', '<math'])
      expect(body, bad).not.toContain(bad);
    expect(body).toContain('<a href="https://example.com/page" rel="noopener noreferrer" target="_blank">good link</a>');
    expect(body).toContain(`<img alt="logo" src="data:image/png;base64,${PNG.toString('base64')}" />`);
    expect(body).toContain('<p>Hello <b>there</b></p>');
    expect(body).toMatch(/<style>[^<]*p \{ color: red \}/);
    expect(body).toContain('color: blue');
    // Images: tracker, protocol-relative, the relative "x"; CSS: @import, two url()s in <style>, one in a style attribute.
    expect(remoteContentBlocked).toBe(7);
  });

  it('counts one remote image of an otherwise harmless message and keeps its inline image', async () => {
    const mime = await composeMime({ subject: 'One', html: '<p>Hi <img src="https://tracker.example/p.gif"> <img src="cid:a@b"></p>', attachments: [{ name: 'a.png', contentType: 'image/png', content: PNG, contentId: 'a@b' }] });
    const p = await previewDocument(mime);
    expect(p.remoteContentBlocked).toBe(1);
    expect(p.html).toContain('src="data:image/png;base64,');
    expect(p.html).not.toContain('tracker.example');
    expect((await messageDetail(mime)).remoteContentBlocked).toBe(1);
  });

  it('a text-only message becomes escaped <pre>', async () => {
    const p = await previewDocument(await composeMime({ subject: 'Plain', text: 'Look: <script>alert(1)</script> & <img src=x onerror=alert(2)>\nline 2' }));
    expect(p.remoteContentBlocked).toBe(0);
    expect(p.html).toContain('<pre class="vplus-text">Look: &#60;script&#62;alert(1)&#60;/script&#62; &#38; &#60;img src=x onerror=alert(2)&#62;\nline 2');
    expect(p.html).not.toContain('<script');
  });

  it('the CSP the server sends allows nothing remote and sandboxes the document', () => {
    expect(PREVIEW_CSP).toMatch(/^default-src 'none'; img-src data:; style-src 'unsafe-inline';/);
    expect(PREVIEW_CSP).toContain('sandbox');
    expect(PREVIEW_CSP).not.toMatch(/allow-scripts|allow-same-origin|https?:/);
  });
});

describe('messageDetail and attachmentContent', () => {
  it('reads the fields of a unicode message', async () => {
    const pdf = randomBytes(3000);
    const mime = await composeMime({
      subject: 'Grüße aus Köln — 日本語 ✓',
      from: { name: 'Zoë Ünal', address: 'zoe@example.com' },
      to: [{ name: 'Ålice Ärcher', address: 'alice@example.com' }, { address: 'bob@example.com' }],
      cc: [{ name: '山田 太郎', address: 'taro@example.jp' }],
      bcc: [{ address: 'hidden@example.com' }],
      replyTo: [{ name: 'Zoë', address: 'reply@example.com' }],
      date: new Date('2024-01-02T09:59:00Z'),
      messageId: '<unicode-42@example.com>',
      html: '<p>Grüße — 日本語 ✓ <img src="cid:logo@x"></p>',
      attachments: [
        { name: 'Angebot für Café ☕.pdf', contentType: 'application/pdf', content: pdf },
        { name: 'logo.png', contentType: 'image/png', content: PNG, contentId: 'logo@x' },
      ],
    });
    const d = await messageDetail(mime);
    expect(d).toMatchObject({
      subject: 'Grüße aus Köln — 日本語 ✓',
      from: { name: 'Zoë Ünal', address: 'zoe@example.com' },
      to: [{ name: 'Ålice Ärcher', address: 'alice@example.com' }, { name: null, address: 'bob@example.com' }],
      cc: [{ name: '山田 太郎', address: 'taro@example.jp' }],
      bcc: [{ name: null, address: 'hidden@example.com' }],
      replyTo: [{ name: 'Zoë', address: 'reply@example.com' }],
      sentAt: '2024-01-02T09:59:00.000Z',
      internetMessageId: '<unicode-42@example.com>',
      hasHtml: true,
      remoteContentBlocked: 0,
    });
    expect(d.text).toContain('Grüße — 日本語 ✓');
    const pdfEntry = d.attachments.find((a) => a.name === 'Angebot für Café ☕.pdf')!;
    expect(pdfEntry).toMatchObject({ size: 3000, contentType: 'application/pdf', inline: false });
    expect(d.attachments.find((a) => a.name === 'logo.png')).toMatchObject({ contentType: 'image/png', inline: true, size: PNG.length });
    const got = await attachmentContent(mime, pdfEntry.index);
    expect(got).toMatchObject({ name: 'Angebot für Café ☕.pdf', contentType: 'application/pdf' });
    expect(sha(got.content)).toBe(sha(pdf));
    await expect(attachmentContent(mime, 9)).rejects.toThrow(MailContentError);
  });

  it('hostile MIME: names with ../ and NUL made safe, a huge header refused, broken encodings survived', async () => {
    const evilName = Buffer.from(
      [
        'From: x@example.com',
        'Subject: evil names',
        'Content-Type: multipart/mixed; boundary="b"',
        '',
        '--b',
        'Content-Type: text/plain',
        '',
        'hi',
        '--b',
        'Content-Type: application/octet-stream; name="../../etc/passwd"',
        'Content-Disposition: attachment; filename*=utf-8\'\'..%2F..%2F.ssh%2Fauthorized_keys%00.txt',
        'Content-Transfer-Encoding: base64',
        '',
        Buffer.from('ssh-rsa AAAA').toString('base64'),
        '--b',
        'Content-Type: text/html"; x=<script>',
        'Content-Disposition: attachment; filename="..\\\\..\\\\win.ini"',
        '',
        'x',
        '--b--',
        '',
      ].join('\r\n'),
    );
    const d = await messageDetail(evilName);
    for (const a of d.attachments) {
      expect(a.name.includes('\0') || a.name.includes('/') || a.name.includes('\\') || a.name.startsWith('..')).toBe(false);
      expect(a.contentType).toMatch(/^[a-z0-9.+-]+\/[a-z0-9.+-]+$/);
    }
    expect(d.attachments[0]!.name).toBe('authorized_keys_.txt');
    expect((await attachmentContent(evilName, 0)).content.toString()).toBe('ssh-rsa AAAA');

    const hugeHeader = Buffer.from(`Subject: big\r\n${`X-Junk: ${'a'.repeat(70)}\r\n`.repeat(16_000)}\r\nbody`);
    await expect(messageDetail(hugeHeader)).rejects.toThrow(/header/);
    await expect(previewDocument(hugeHeader)).rejects.toBeInstanceOf(MailContentError);

    const broken = [
      Buffer.from('Subject: =?utf-8?B?!!!not base64?=\r\nContent-Type: text/html; charset=x-no-such-charset\r\nContent-Transfer-Encoding: base64\r\n\r\n%%%% not base64 <script>alert(1)</script>'),
      Buffer.from('Subject: qp\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=XX=C3=\r\n=E9=\r\n'),
      Buffer.from('Content-Type: multipart/mixed; boundary="never-closed"\r\n\r\n--never-closed\r\nContent-Type: text/html\r\n\r\n<p>unterminated <img src=https://evil.example/x'),
      Buffer.from('\u0000\u0001\u0002 not a message at all \u00ff\u00fe'),
      randomBytes(4096),
    ];
    for (const m of broken) {
      const p = await safely(previewDocument(m));
      if (!(p instanceof MailContentError)) {
        expect(p.html).not.toMatch(/<script|evil\.example/);
      }
      await safely(messageDetail(m));
    }
  });
});
