import { BrowserWindow, ipcMain } from 'electron';
import type { CatalogChoice } from '../preload/desktop-api.js';
import { parseCatalogChoice } from './catalog-choice.js';
import { handle } from './desktop-ipc.js';
import { confineToOrigin, secureWebPreferences } from './window-security.js';

export interface FirstRunPaths {
  html: string;
  preload: string;
  icon: string;
}

const SUBMIT = 'vplus:first-run-submit';

/**
 * Shows the local first-run page and resolves with the user's catalog choice,
 * or null when they close the window without choosing. The submit handler
 * exists only while the page does, and answers only that page.
 */
export function askCatalogChoice(
  paths: FirstRunPaths,
  onWindow: (win: BrowserWindow | null) => void,
): Promise<CatalogChoice | null> {
  return new Promise((resolve, reject) => {
    const win = new BrowserWindow({
      width: 620,
      height: 600,
      resizable: false,
      show: false,
      title: 'vPlus — first start',
      icon: paths.icon,
      webPreferences: secureWebPreferences(paths.preload),
    });
    win.setMenuBarVisibility(false);
    confineToOrigin(win.webContents, null);
    onWindow(win);

    let chosen: CatalogChoice | null = null;
    handle(SUBMIT, (event, input) => {
      if (event.sender !== win.webContents) throw new Error('not allowed from this page');
      const { choice, result } = parseCatalogChoice(input);
      if (result.ok) {
        chosen = choice;
        // Close after this reply has been sent.
        setImmediate(() => win.close());
      }
      return result;
    });
    win.once('closed', () => {
      ipcMain.removeHandler(SUBMIT);
      onWindow(null);
      resolve(chosen);
    });
    win.once('ready-to-show', () => win.show());
    win.loadFile(paths.html).catch((err: unknown) => {
      ipcMain.removeHandler(SUBMIT);
      onWindow(null);
      win.destroy();
      reject(err instanceof Error ? err : new Error(String(err)));
    });
  });
}
