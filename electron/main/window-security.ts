import { app, shell, type Session, type WebContents } from 'electron';
import { verifyCertificate, type ServerPin } from './certificate-pin.js';

/**
 * Settings for every window: the page gets no Node, runs sandboxed in its
 * own JS world, and reaches the main process only through its preload.
 */
export function secureWebPreferences(preload: string): Electron.WebPreferences {
  return {
    preload,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    spellcheck: false,
  };
}

/** Opens https:// links in the user's browser; anything else is refused. */
export function openExternalHttps(url: string): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return Promise.reject(new Error('not a URL'));
  }
  if (parsed.protocol !== 'https:') return Promise.reject(new Error('only https:// links are opened'));
  return shell.openExternal(parsed.href);
}

/** Harmless permissions the admin UI may use (copy a fingerprint or token to the clipboard). */
const UI_PERMISSIONS = new Set(['clipboard-sanitized-write', 'fullscreen']);

function originOf(url: string): string | null {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

/**
 * App-wide rules, set once before any window: no new windows (https links go
 * to the browser instead), no <webview>, and no permission (camera,
 * geolocation, notifications, …) except the few above, for the server's own
 * origin once it is known.
 */
export function hardenApp(session: Session, serverOrigin: () => string | null): void {
  app.on('web-contents-created', (_event, contents) => {
    contents.setWindowOpenHandler(({ url }) => {
      void openExternalHttps(url).catch(() => undefined);
      return { action: 'deny' };
    });
    contents.on('will-attach-webview', (event) => event.preventDefault());
  });
  const allowed = (permission: string, origin: string | null): boolean =>
    UI_PERMISSIONS.has(permission) && origin !== null && origin === serverOrigin();
  session.setPermissionRequestHandler((_contents, permission, callback, details) =>
    callback(allowed(permission, originOf(details.requestingUrl))),
  );
  session.setPermissionCheckHandler((_contents, permission, requestingOrigin) =>
    allowed(permission, originOf(requestingOrigin)),
  );
}

/**
 * Trust the embedded server's self-signed certificate by its pinned SHA-256,
 * and only for the server's host; every other host is verified as usual.
 */
export function pinServerCertificate(session: Session, pin: ServerPin): void {
  session.setCertificateVerifyProc((request, callback) => callback(verifyCertificate(request, pin)));
}

/** Keeps a window on its origin: navigations and redirects elsewhere are cancelled. */
export function confineToOrigin(contents: WebContents, allowedOrigin: string | null): void {
  const allowed = (url: string): boolean => {
    if (allowedOrigin === null) return false;
    try {
      return new URL(url).origin === allowedOrigin;
    } catch {
      return false;
    }
  };
  contents.on('will-navigate', (event) => {
    if (!allowed(event.url)) event.preventDefault();
  });
  contents.on('will-redirect', (event) => {
    if (event.isMainFrame && !allowed(event.url)) event.preventDefault();
  });
}
