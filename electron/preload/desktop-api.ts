/**
 * The desktop extras the Electron shell gives the admin UI, as
 * `window.vplusDesktop`. Types only: the renderer imports them with
 * `import type`, and in a plain browser the object is simply absent.
 *
 * The preloads are sandboxed and cannot import this file at run time, so the
 * channel names below are the single typed list both sides are checked against.
 */

export type DesktopPlatform = 'linux' | 'darwin' | 'win32' | 'freebsd' | 'openbsd' | 'aix' | 'sunos' | 'android' | 'haiku' | 'cygwin' | 'netbsd';

export interface PickFolderOptions {
  /** Dialog title, e.g. "Choose the backup destination". */
  title?: string;
  /** Absolute path the dialog starts in. */
  defaultPath?: string;
}

export interface DesktopApi {
  readonly platform: DesktopPlatform;
  /** A folder on this computer chosen by the user, or null when cancelled. */
  pickFolder(options?: PickFolderOptions): Promise<string | null>;
  /** Opens an https:// link in the user's browser. */
  openExternal(url: string): Promise<void>;
}

/** The catalog the desktop app's server uses, chosen on first run. */
export type CatalogChoice = { mode: 'managed' } | { mode: 'remote'; dbUrl: string };

export type FirstRunResult = { ok: true } | { ok: false; message: string };

/** Exposed only to the local first-run page, as `window.vplusFirstRun`. */
export interface FirstRunApi {
  submit(choice: CatalogChoice): Promise<FirstRunResult>;
}

/** Every IPC channel, with what the renderer sends and what main answers. */
export interface DesktopIpcChannels {
  'vplus:pick-folder': { args: [options?: PickFolderOptions]; result: string | null };
  'vplus:open-external': { args: [url: string]; result: void };
  'vplus:first-run-submit': { args: [choice: CatalogChoice]; result: FirstRunResult };
}
export type DesktopIpcChannel = keyof DesktopIpcChannels;

declare global {
  interface Window {
    /** Present only inside the vPlus desktop app. */
    readonly vplusDesktop?: DesktopApi;
    readonly vplusFirstRun?: FirstRunApi;
  }
}
