/**
 * What the cloud agent needs to reach one Microsoft 365 tenant. Every host comes from here:
 * national clouds (graph.microsoft.us, login.chinacloudapi.cn…) and proxies differ, so the
 * agent never assumes a Microsoft host (the server's form fills the public cloud's by default).
 */
export type AppCredential =
  | { kind: 'secret'; secret: string }
  /** A certificate registered on the app; the private key signs the client assertion. */
  | { kind: 'certificate'; certificatePem: string; privateKeyPem: string };

export interface TenantSettings {
  /** Directory (tenant) id or its primary domain. */
  tenantId: string;
  /** Application (client) id of the app registration. */
  clientId: string;
  credential: AppCredential;
  /** e.g. https://login.microsoftonline.com */
  authorityHost: string;
  /** e.g. https://graph.microsoft.com/v1.0 */
  graphUrl: string;
  /** A CA to trust besides the system's, e.g. a TLS-inspecting proxy's (PEM). */
  caPem?: string | null;
}

/** The Graph URL without a trailing slash, and the token scope of its origin (`https://host/.default`). */
export function graphEndpoints(settings: Pick<TenantSettings, 'graphUrl'>): { base: string; scope: string } {
  const url = new URL(settings.graphUrl);
  return { base: url.href.replace(/\/+$/, ''), scope: `${url.origin}/.default` };
}
