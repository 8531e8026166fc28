import { BrowserWindow, app, dialog, powerMonitor, session, type Tray } from 'electron';
import { parseBootConfig } from '../server/boot-config.js';
import type { RunningServer } from '../server/server.js';
import type { CatalogChoice } from '../preload/desktop-api.js';
import { registerDesktopIpc } from './desktop-ipc.js';
import { askCatalogChoice } from './first-run.window.js';
import type { DesktopSettings } from './settings.store.js';
import { createTray } from './tray.js';
import { confineToOrigin, hardenApp, pinServerCertificate, secureWebPreferences } from './window-security.js';

export interface DesktopPaths {
  mainPreload: string;
  firstRunPreload: string;
  firstRunHtml: string;
  icon: string;
  /** The embedded server's data directory. */
  serverDataDir: string;
}

type StartServer = (config: ReturnType<typeof parseBootConfig>) => Promise<RunningServer>;

/**
 * The desktop shell's lifecycle: first-run choice, the embedded server, one
 * window onto it, the tray. No business logic: the server does the work and
 * the window shows the same UI a browser gets.
 */
export class DesktopApp {
  private server: RunningServer | null = null;
  private startup: Promise<RunningServer | null> | null = null;
  private window: BrowserWindow | null = null;
  private firstRunWindow: BrowserWindow | null = null;
  private tray: Tray | null = null;
  private quitting = false;
  private serverClosed = false;

  constructor(
    private readonly paths: DesktopPaths,
    private readonly settings: DesktopSettings,
    private readonly startServer: StartServer,
  ) {}

  /** Call once, after app is ready. */
  async start(): Promise<void> {
    hardenApp(session.defaultSession, () => this.serverOrigin());
    registerDesktopIpc({ mainWindow: () => this.window, serverOrigin: () => this.serverOrigin() });
    app.on('second-instance', () => this.focus());
    // Closing the window hides it; the server keeps serving nodes until Quit.
    app.on('window-all-closed', () => undefined);
    app.on('before-quit', (event) => {
      if (!this.serverClosed) {
        event.preventDefault();
        void this.quit();
      }
    });
    // Quit from the tray, logging out and a system shutdown all take the server's one stop path (quit()).
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void this.quit());
    // Logging out or shutting down: preventDefault (typed without its event, but documented) makes
    // Electron hold a logind delay inhibitor while the server stops; quit() ends with app.quit().
    powerMonitor.on('shutdown', (...args: unknown[]) => {
      (args[0] as { preventDefault?: () => void } | undefined)?.preventDefault?.();
      void this.quit();
    });

    this.tray = createTray({ iconPath: this.paths.icon, onOpen: () => this.focus(), onQuit: () => void this.quit() });
    this.tray.setToolTip('vPlus — starting the server…');

    this.startup = this.startServerLoop();
    const server = await this.startup;
    if (!server) {
      this.serverClosed = true;
      app.quit();
      return;
    }
    this.server = server;
    this.tray.setToolTip(`vPlus — ${server.url}`);
    pinServerCertificate(session.defaultSession, { hostname: new URL(server.url).hostname, fingerprint: server.fingerprint });
    this.openWindow(server);
    // A laptop that slept through a scheduled backup catches it up as soon as it wakes
    // (inside the policy's window), instead of waiting for the scheduler's next tick.
    powerMonitor.on('resume', () => void server.scheduler.tick());
  }

  /** Stops the server (and its managed MariaDB) before the app goes. */
  async quit(): Promise<void> {
    if (this.quitting) return;
    this.quitting = true;
    this.firstRunWindow?.close();
    this.window?.hide();
    const server = this.server ?? (await this.startup?.catch(() => null)) ?? null;
    try {
      await server?.close();
    } catch (err) {
      dialog.showErrorBox('vPlus', `The server did not stop cleanly: ${message(err)}`);
    }
    this.serverClosed = true;
    this.tray?.destroy();
    app.quit();
  }

  private serverOrigin(): string | null {
    return this.server ? new URL(this.server.url).origin : null;
  }

  private focus(): void {
    const win = this.firstRunWindow ?? this.window ?? (this.server && !this.quitting ? this.openWindow(this.server) : null);
    if (!win) return;
    if (win.isMinimized()) win.restore();
    win.show();
    win.focus();
  }

  /** Until a server runs: ask where the catalog lives (first run), start, and on failure let the user retry or choose again. */
  private async startServerLoop(): Promise<RunningServer | null> {
    for (;;) {
      let choice: CatalogChoice | null | undefined = this.settings.catalogChoice();
      if (!choice) {
        choice = await askCatalogChoice(
          { html: this.paths.firstRunHtml, preload: this.paths.firstRunPreload, icon: this.paths.icon },
          (win) => (this.firstRunWindow = win),
        );
        if (!choice || this.quitting) return null;
        this.settings.setCatalogChoice(choice);
      }
      try {
        const server = await this.startServer(
          parseBootConfig({ dataDir: this.paths.serverDataDir, dbUrl: choice.mode === 'remote' ? choice.dbUrl : undefined }),
        );
        if (this.quitting) {
          await server.close();
          return null;
        }
        return server;
      } catch (err) {
        if (this.quitting) return null;
        const { response } = await dialog.showMessageBox({
          type: 'error',
          title: 'vPlus',
          message: 'vPlus could not start its server.',
          detail: message(err),
          buttons: ['Retry', 'Change the catalog…', 'Quit'],
          defaultId: 0,
          cancelId: 2,
          noLink: true,
        });
        if (response === 2 || this.quitting) return null;
        if (response === 1) this.settings.clearCatalogChoice();
      }
    }
  }

  private openWindow(server: RunningServer): BrowserWindow {
    const win = new BrowserWindow({
      width: 1280,
      height: 820,
      minWidth: 900,
      minHeight: 600,
      show: false,
      title: 'vPlus',
      icon: this.paths.icon,
      webPreferences: secureWebPreferences(this.paths.mainPreload),
    });
    this.window = win;
    confineToOrigin(win.webContents, new URL(server.url).origin);
    win.on('close', (event) => {
      if (!this.quitting) {
        event.preventDefault();
        win.hide();
      }
    });
    win.on('closed', () => {
      if (this.window === win) this.window = null;
    });
    win.once('ready-to-show', () => win.show());
    // First run: this app runs the server, so it hands the setup code to its own window (in the fragment, never sent).
    const code = server.setupCode();
    win.loadURL(code ? `${server.url}/#setup-code=${encodeURIComponent(code)}` : server.url).catch((err: unknown) => {
      dialog.showErrorBox('vPlus', `The window could not load the server at ${server.url}: ${message(err)}`);
    });
    return win;
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
