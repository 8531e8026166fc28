import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { normalizeFingerprint } from '../fingerprint.js';

/**
 * An HTTPS agent that trusts exactly one server certificate, identified by its
 * SHA-256 fingerprint (certificate pinning, as the server's certificate is
 * self-signed). The socket is handed to the HTTP layer only after the
 * handshake completed and the fingerprint matched, so not a byte of a request
 * (cookies, tokens, passwords) is ever written to an impostor.
 *
 * Node-only: the renderer never imports this file.
 */
export class PinnedAgent extends https.Agent {
  private readonly pin: string;

  constructor(fingerprint: string, options: https.AgentOptions = {}) {
    super({ keepAlive: true, ...options });
    this.pin = normalizeFingerprint(fingerprint);
  }

  override createConnection(
    options: https.RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | undefined {
    const socket = tls.connect({ ...(options as tls.ConnectionOptions), rejectUnauthorized: false });
    const fail = (err: Error): void => {
      socket.destroy();
      callback?.(err, socket);
    };
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      socket.removeListener('error', fail);
      const seen = socket.getPeerCertificate().fingerprint256 ?? '';
      if (seen === '' || normalizeFingerprint(seen) !== this.pin) {
        fail(new CertificateMismatchError(this.pin, seen));
        return;
      }
      callback?.(null, socket);
    });
    // Returning undefined makes the agent wait for the callback.
    return undefined;
  }
}

export class CertificateMismatchError extends Error {
  readonly code = 'CERT_FINGERPRINT_MISMATCH';
  constructor(expected: string, seen: string) {
    super(
      `the server's certificate fingerprint ${seen || '(none)'} does not match the pinned ${expected}; ` +
        'if the server was reinstalled, check its fingerprint and log in again with --fingerprint',
    );
  }
}

/**
 * Reads the fingerprint of the certificate a TLS server presents, without
 * sending anything. Used to show the fingerprint to a user before they pin it.
 */
export function fetchServerFingerprint(host: string, port: number, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, rejectUnauthorized: false });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no TLS answer from ${host}:${port} within ${timeoutMs / 1000}s`)));
    socket.once('error', reject);
    socket.once('secureConnect', () => {
      const fp = socket.getPeerCertificate().fingerprint256;
      socket.end();
      if (fp) resolve(normalizeFingerprint(fp));
      else reject(new Error(`${host}:${port} presented no certificate`));
    });
  });
}
