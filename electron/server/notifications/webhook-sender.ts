import { createHmac, randomUUID } from 'node:crypto';
import { DeliveryError } from './email-sender.js';

export interface WebhookConfig {
  url: string;
  /** When set, the body is signed: X-Vplus-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>. */
  secret: string | undefined;
}

export interface WebhookResult {
  response: string;
}

export interface WebhookPoster {
  post(config: WebhookConfig, event: string, payload: Record<string, unknown>): Promise<WebhookResult>;
}

export const SIGNATURE_HEADER = 'X-Vplus-Signature';

export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** JSON POST with fetch; redirects are not followed (the admin gave this exact URL). */
export class HttpWebhookPoster implements WebhookPoster {
  constructor(private readonly timeoutMs = 10_000) {}

  async post(config: WebhookConfig, event: string, payload: Record<string, unknown>): Promise<WebhookResult> {
    let url: URL;
    try {
      url = new URL(config.url);
    } catch {
      throw new DeliveryError('the webhook URL is not a valid URL', 'WEBHOOK_FAILED');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new DeliveryError('the webhook URL must start with http:// or https://', 'WEBHOOK_FAILED');
    const body = JSON.stringify(payload);
    const headers: Record<string, string> = {
      'content-type': 'application/json; charset=utf-8',
      'user-agent': 'vPlus-notifications',
      'x-vplus-event': event,
      'x-vplus-delivery': randomUUID(),
    };
    if (config.secret) headers[SIGNATURE_HEADER.toLowerCase()] = signBody(config.secret, body);
    // Only scheme, host and port in messages: a webhook URL's path often is its secret.
    const where = url.origin;
    let res: Response;
    try {
      res = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      if (e.name === 'TimeoutError' || e.name === 'AbortError') throw new DeliveryError(`the webhook at ${where} did not answer within ${Math.round(this.timeoutMs / 1000)} s`, 'WEBHOOK_FAILED');
      const why = e.cause?.code ?? e.cause?.message ?? e.message;
      throw new DeliveryError(`could not reach the webhook at ${where}: ${why}`, 'WEBHOOK_FAILED');
    }
    const text = (await res.text().catch(() => '')).trim().slice(0, 300);
    if (res.status < 200 || res.status >= 300) {
      throw new DeliveryError(`the webhook at ${where} answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}${text ? `: ${text}` : ''}`, 'WEBHOOK_FAILED');
    }
    return { response: `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}` };
  }
}
