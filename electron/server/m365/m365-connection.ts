import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { M365ConnectionTest } from '../../../common/api/m365.js';
import type { M365TenantSettings, M365TestAnswer } from '../../../common/m365-tasks.js';
import { AppError, badRequest, conflict } from '../errors.js';
import { RelayError } from '../nodes/node-relay.js';
import type { NodeSessions } from '../nodes/node-sessions.js';
import type { SecretsRepository } from '../security/secrets.repository.js';
import type { M365TenantRow } from './m365-tenants.repository.js';

/** Signing in and one read per permission; the Graph layer's retries are cut short for a test. */
const TEST_TIMEOUT_MS = 90_000;

/** The tenant's client secret or certificate private key, sealed in the secrets table. */
export const m365SecretName = (tenantId: number): string => `m365-tenant:${tenantId}`;

/** A credential as a form sends it: the secret's Value, or a certificate with its private key. */
export interface CredentialInput {
  credentialKind: 'secret' | 'certificate';
  clientSecret?: string | undefined;
  certificatePem?: string | undefined;
  privateKeyPem?: string | undefined;
}

/** Hosts without a trailing slash; an empty CA is none. */
export function normalizeHosts<T extends { authorityHost: string; graphUrl: string; caPem?: string | null | undefined }>(v: T): T & { caPem: string | null } {
  return { ...v, authorityHost: v.authorityHost.trim().replace(/\/+$/, ''), graphUrl: v.graphUrl.trim().replace(/\/+$/, ''), caPem: v.caPem?.trim() ? v.caPem.trim() : null };
}

/** A CA that is no certificate is refused on its field before any node is asked. */
export function checkCaPem(caPem: string | null): void {
  if (caPem !== null) readCertificate(caPem, 'caPem', 'the CA');
}

/**
 * The credential as the node needs it, checked here first: a certificate that cannot be read,
 * a private key that is encrypted or belongs to another certificate, each refused on its field
 * before any node is asked.
 */
export function credentialOf(input: CredentialInput): M365TenantSettings['credential'] {
  if (input.credentialKind === 'secret') {
    const secret = input.clientSecret?.trim() ?? '';
    if (secret === '') throw badRequest("enter the client secret's Value (Certificates & secrets in the app registration)", 'clientSecret');
    return { kind: 'secret', secret };
  }
  const certificatePem = input.certificatePem?.trim() ?? '';
  const privateKeyPem = input.privateKeyPem?.trim() ?? '';
  if (certificatePem === '') throw badRequest('paste the certificate registered on the app (PEM)', 'certificatePem');
  if (privateKeyPem === '') throw badRequest("paste the certificate's private key (PEM)", 'privateKeyPem');
  const cert = readCertificate(certificatePem, 'certificatePem', 'the certificate');
  let key;
  try {
    key = createPrivateKey(privateKeyPem);
  } catch {
    throw badRequest('the private key cannot be read: paste it in PEM form, not encrypted with a password', 'privateKeyPem');
  }
  if (!cert.checkPrivateKey(key)) throw badRequest('this private key does not belong to the certificate: paste the key the certificate was made with', 'privateKeyPem');
  return { kind: 'certificate', certificatePem, privateKeyPem };
}

function readCertificate(pem: string, field: string, what: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw badRequest(`${what} cannot be read: paste a certificate in PEM form (-----BEGIN CERTIFICATE----- …)`, field);
  }
}

/** The sealed value of a credential: the secret, or the private key (the certificate is a column). */
export function sealedValueOf(credential: M365TenantSettings['credential']): string {
  return credential.kind === 'secret' ? credential.secret : credential.privateKeyPem;
}

/** A stored tenant's settings with its credential unsealed, for a node (never stored in a task). */
export async function storedSettings(row: M365TenantRow, secrets: SecretsRepository): Promise<M365TenantSettings> {
  const sealed = await secrets.get(m365SecretName(row.id));
  if (sealed === undefined) throw conflict(`the credential of tenant "${row.name}" is missing from the catalog; enter it again (change the tenant)`);
  const credential: M365TenantSettings['credential'] =
    row.credential_kind === 'secret' ? { kind: 'secret', secret: sealed } : { kind: 'certificate', certificatePem: row.certificate_pem ?? '', privateKeyPem: sealed };
  return { tenantId: row.tenant_id, clientId: row.client_id, credential, authorityHost: row.authority_host, graphUrl: row.graph_url, caPem: row.ca_pem };
}

/** The application permissions a test found missing. */
export const missingOf = (test: M365ConnectionTest): string[] => test.checks.filter((c) => !c.ok).map((c) => c.permission);

/**
 * Test connection on a node (a call: the credential enters no task or log). Signing in that
 * fails is refused with the identity platform's reason as a sentence, on the setting it is
 * about: 400 for a wrong credential or id, 502 when the host cannot be reached.
 */
export async function testOnNode(sessions: NodeSessions, node: { id: number; name: string }, tenant: M365TenantSettings): Promise<M365ConnectionTest> {
  let answer: M365TestAnswer;
  try {
    answer = await sessions.relay.nodeCall(node.id, { op: 'm365.test', args: { tenant } }, TEST_TIMEOUT_MS);
  } catch (err) {
    if (!(err instanceof RelayError)) throw err;
    switch (err.code) {
      case 'NODE_OFFLINE':
        throw conflict(`node "${node.name}" is offline; start it first, or choose another node for this tenant`, 'node');
      case 'NODE_TIMEOUT':
        throw new AppError(504, 'NODE_TIMEOUT', `node "${node.name}" did not finish the connection test within ${TEST_TIMEOUT_MS / 1000} s; try again`);
      case 'NODE_CALL_UNSUPPORTED':
        throw conflict(`node "${node.name}" cannot test Microsoft 365 connections; upgrade it`, 'node');
      default:
        throw new AppError(502, err.code.startsWith('M365_') ? err.code : 'M365_TEST_FAILED', err.message);
    }
  }
  if (!answer.signedIn) {
    const status = answer.failure?.code === 'M365_UNREACHABLE' ? 502 : 400;
    const code = status === 502 ? 'M365_UNREACHABLE' : 'M365_SIGN_IN_FAILED';
    throw new AppError(status, code, answer.message, answer.failure?.field ?? undefined).withDetail(answer.failure?.detail ?? undefined);
  }
  return { ok: answer.ok, roles: answer.roles, checks: answer.checks, message: answer.message };
}
