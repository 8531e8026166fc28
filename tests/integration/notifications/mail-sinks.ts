/**
 * A real SMTP server (smtp-server) and a real HTTP receiver on loopback, recording what the
 * vPlus server sends them, for the notification tests.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { ensureServerTls } from '../../../electron/server/security/certificates.js';
import { makeTempDir, waitFor } from '../../support/test-server.js';

export interface ReceivedMail {
  from: string;
  to: string[];
  /** Lower-case header names, unfolded and decoded. */
  headers: Record<string, string>;
  subject: string;
  text: string;
  /** The connection was TLS (implicit or after STARTTLS) when the message was sent. */
  secure: boolean;
  /** The account the client logged in as, if it did. */
  user: string | undefined;
}

/** A CA and a certificate for localhost/127.0.0.1 signed by it, made fresh for each test run. */
export interface TestCertificates {
  key: string;
  cert: string;
  caCert: string;
}

export async function makeCertificates(): Promise<TestCertificates> {
  const dir = makeTempDir('smtp-tls');
  const tls = await ensureServerTls(path.join(dir, 'tls'));
  fs.rmSync(dir, { recursive: true, force: true });
  return { key: tls.key, cert: tls.cert, caCert: tls.caCert };
}

export interface SmtpSinkOptions {
  /** plain: no TLS at all (STARTTLS not offered); starttls: plain with STARTTLS offered; tls: TLS from the first byte. */
  mode: 'plain' | 'starttls' | 'tls';
  certificates?: TestCertificates;
  /** Accounts that may log in; when given, a login is required. */
  users?: Record<string, string>;
}

export class SmtpSink {
  private constructor(
    private readonly server: SMTPServer,
    readonly port: number,
    readonly messages: ReceivedMail[],
  ) {}

  static async start(opts: SmtpSinkOptions): Promise<SmtpSink> {
    const requireAuth = opts.users !== undefined;
    const messages: ReceivedMail[] = [];
    const server = new SMTPServer({
      secure: opts.mode === 'tls',
      ...(opts.mode !== 'plain' ? { key: opts.certificates!.key, cert: opts.certificates!.cert } : {}),
      disabledCommands: opts.mode === 'plain' ? ['STARTTLS'] : [],
      authOptional: !requireAuth,
      // Logins over plain text only in the "plain" sink; STARTTLS sinks insist on TLS first, like real servers.
      allowInsecureAuth: opts.mode === 'plain',
      logger: false,
      onAuth(auth, _session, callback) {
        if (auth.username !== undefined && opts.users?.[auth.username] !== undefined && opts.users[auth.username] === auth.password) {
          callback(null, { user: auth.username });
          return;
        }
        const err = Object.assign(new Error('Invalid username or password'), { responseCode: 535 });
        callback(err);
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const parsed = parseMessage(Buffer.concat(chunks).toString('utf8'));
          messages.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            headers: parsed.headers,
            subject: parsed.headers.subject ?? '',
            text: parsed.text,
            secure: session.secure,
            user: typeof session.user === 'string' ? session.user : undefined,
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const port = (server.server.address() as AddressInfo).port;
    return new SmtpSink(server, port, messages);
  }

  /** Waits for a message matching `match` (by default: any) and returns it. */
  async next(match: (m: ReceivedMail) => boolean = () => true, timeoutMs = 20_000): Promise<ReceivedMail> {
    return waitFor('an e-mail at the SMTP sink', async () => this.messages.find(match), timeoutMs);
  }

  clear(): void {
    this.messages.length = 0;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export interface ReceivedPost {
  headers: http.IncomingHttpHeaders;
  body: string;
  json: Record<string, unknown>;
}

/** A tiny HTTP server that records POSTs and answers with `status`. */
export class WebhookReceiver {
  private constructor(
    private readonly server: http.Server,
    readonly url: string,
    readonly posts: ReceivedPost[],
    private readonly state: { status: number },
  ) {}

  /** What the receiver answers; 204 unless a test breaks it. */
  get status(): number {
    return this.state.status;
  }

  set status(value: number) {
    this.state.status = value;
  }

  static async start(): Promise<WebhookReceiver> {
    const posts: ReceivedPost[] = [];
    const state = { status: 204 };
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let json: Record<string, unknown> = {};
        try {
          json = JSON.parse(body) as Record<string, unknown>;
        } catch {
          // recorded as is; the test will say what it expected
        }
        posts.push({ headers: req.headers, body, json });
        const status = state.status;
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status >= 400 ? 'receiver is broken today' : '');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return new WebhookReceiver(server, `http://127.0.0.1:${port}/hooks/vplus`, posts, state);
  }

  async next(match: (p: ReceivedPost) => boolean = () => true, timeoutMs = 20_000): Promise<ReceivedPost> {
    return waitFor('a webhook POST', async () => this.posts.find(match), timeoutMs);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Just enough MIME for single-part text messages: unfolded headers, RFC 2047 words, QP/base64 bodies. */
export function parseMessage(raw: string): { headers: Record<string, string>; text: string } {
  const split = raw.indexOf('\r\n\r\n');
  const head = split >= 0 ? raw.slice(0, split) : raw;
  const body = split >= 0 ? raw.slice(split + 4) : '';
  const headers: Record<string, string> = {};
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = decodeWords(line.slice(colon + 1).trim());
  }
  const encoding = (headers['content-transfer-encoding'] ?? '7bit').toLowerCase();
  let text: string;
  if (encoding === 'quoted-printable') text = decodeQuotedPrintable(body);
  else if (encoding === 'base64') text = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  else text = body;
  return { headers, text: text.replace(/\r\n/g, '\n') };
}

function decodeQuotedPrintable(s: string): string {
  const bytes = s.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

function decodeWords(s: string): string {
  return s.replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=\s*(?==\?)?/g, (_m, _charset: string, enc: string, data: string) => {
    if (enc.toUpperCase() === 'B') return Buffer.from(data, 'base64').toString('utf8');
    return decodeQuotedPrintable(data.replace(/_/g, ' '));
  });
}
