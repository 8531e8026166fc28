import { rootCertificates } from 'node:tls';
import { createTransport } from 'nodemailer';
import type { SmtpSecurity } from '../../../common/api/notifications.js';

export interface SmtpConfig {
  host: string;
  port: number;
  security: SmtpSecurity;
  /** null: no login. */
  username: string | null;
  password: string | undefined;
  from: string;
  /** Extra CA certificates (PEM) trusted besides the system's. */
  trustedCa: string | null;
}

export interface MailMessage {
  to: string[];
  subject: string;
  text: string;
}

export interface MailResult {
  /** The server's final reply, e.g. "250 OK: queued as 1234". */
  response: string;
  accepted: string[];
}

/** A channel refused or could not be reached; the message says why, in words an admin can act on. */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** Sends one e-mail; the seam tests and the service share. */
export interface Mailer {
  send(config: SmtpConfig, message: MailMessage): Promise<MailResult>;
}

interface SmtpFailure {
  code?: string;
  response?: string;
  responseCode?: number;
  message?: string;
  cause?: unknown;
}

/** nodemailer over a fresh connection per message: notifications are rare, a pool would only hold sockets open. */
export class SmtpMailer implements Mailer {
  constructor(private readonly timeoutMs = 10_000) {}

  async send(config: SmtpConfig, message: MailMessage): Promise<MailResult> {
    const transport = createTransport({
      host: config.host,
      port: config.port,
      secure: config.security === 'tls',
      requireTLS: config.security === 'starttls',
      // "none" means none: a STARTTLS the server offers is not taken (and its certificate not checked).
      ignoreTLS: config.security === 'none',
      ...(config.username ? { auth: { user: config.username, pass: config.password ?? '' } } : {}),
      // Added to the system's CAs, not instead of them; certificate checks always stay on.
      tls: { minVersion: 'TLSv1.2', ...(config.trustedCa ? { ca: [...rootCertificates, config.trustedCa] } : {}) },
      connectionTimeout: this.timeoutMs,
      greetingTimeout: this.timeoutMs,
      socketTimeout: this.timeoutMs,
      dnsTimeout: this.timeoutMs,
      logger: false,
      disableFileAccess: true,
      disableUrlAccess: true,
    });
    try {
      const info = await transport.sendMail({
        from: { name: 'vPlus', address: config.from },
        to: message.to,
        subject: message.subject,
        text: message.text,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (info.rejected.length > 0 && info.accepted.length === 0) {
        throw new DeliveryError(`the SMTP server refused every recipient (${info.rejected.join(', ')}): ${info.response}`, 'SMTP_REJECTED');
      }
      return { response: info.response, accepted: info.accepted.map(String) };
    } catch (err) {
      if (err instanceof DeliveryError) throw err;
      throw new DeliveryError(describeSmtpError(err as SmtpFailure, config, this.timeoutMs), 'SMTP_FAILED');
    } finally {
      transport.close();
    }
  }
}

/** Turns nodemailer's error into a sentence that names the server and quotes its reply. */
export function describeSmtpError(err: SmtpFailure, config: Pick<SmtpConfig, 'host' | 'port'>, timeoutMs: number): string {
  const where = `${config.host}:${config.port}`;
  const reply = err.response ? `: ${err.response.trim()}` : '';
  const cause = err.cause as { code?: string; message?: string } | undefined;
  const detail = String(err.message ?? '');
  const tlsProblem = /certificate|self[- ]signed|unable to verify|altnames|CERT_|DEPTH_ZERO/i.test(`${detail} ${cause?.code ?? ''} ${cause?.message ?? ''}`);
  switch (err.code) {
    case 'EAUTH':
      return `the SMTP server ${where} refused the login${reply || `: ${detail}`}`;
    case 'ENOAUTH':
      return `the SMTP server ${where} requires a login: enter a username and password`;
    case 'EENVELOPE':
      return `the SMTP server ${where} refused the sender or a recipient${reply || `: ${detail}`}`;
    case 'EMESSAGE':
      return `the SMTP server ${where} refused the message${reply || `: ${detail}`}`;
    case 'ETIMEDOUT':
    case 'EABORT':
      return `the SMTP server ${where} did not answer within ${Math.round(timeoutMs / 1000)} s`;
    case 'EDNS':
      return `the SMTP server's name "${config.host}" could not be resolved: ${detail}`;
    case 'ETLS':
      return `TLS with ${where} failed${tlsProblem ? ' (its certificate is not trusted: add its CA under "Trusted CA")' : ''}: ${detail}`;
    default:
      break;
  }
  if (err.code === 'ECONNECTION' || err.code === 'ESOCKET' || cause?.code) {
    if (tlsProblem) return `the TLS certificate of ${where} is not trusted (${detail}); add its CA certificate under "Trusted CA"`;
    if (/ECONNREFUSED/.test(`${detail} ${cause?.code ?? ''}`)) return `could not connect to the SMTP server ${where}: connection refused`;
    if (/wrong version number|packet length too long|WRONG_VERSION/i.test(detail)) {
      return `could not speak TLS with ${where}: check the security setting (port 465 is usually TLS, 587 STARTTLS)`;
    }
    return `could not talk to the SMTP server ${where}: ${detail}`;
  }
  if (err.responseCode) return `the SMTP server ${where} answered${reply}`;
  return `sending through ${where} failed: ${detail || 'unknown error'}`;
}
