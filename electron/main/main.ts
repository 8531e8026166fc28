import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, dialog } from 'electron';
import { startServer } from '../server/server.js';
import { DesktopApp } from './desktop-app.js';
import { DesktopSettings } from './settings.store.js';

/**
 * Entry point of the desktop app (package.json "main", built to
 * dist/electron/main/main.js). It only builds the shell and starts it; the
 * work is done by the embedded server, which also runs headless.
 */
const PRODUCT = 'vPlus';

// Before ready, and the same in development and packaged builds.
app.setName(PRODUCT);
app.setPath('userData', path.join(app.getPath('appData'), PRODUCT));

if (!app.requestSingleInstanceLock()) {
  // The first instance gets 'second-instance' and shows its window.
  app.quit();
} else {
  app
    .whenReady()
    .then(() => {
      const here = path.dirname(fileURLToPath(import.meta.url)); // dist/electron/main
      const appRoot = app.getAppPath(); // holds package.json (the repository, or app.asar)
      const desktop = new DesktopApp(
        {
          mainPreload: path.join(here, '..', 'preload', 'preload.cjs'),
          firstRunPreload: path.join(here, '..', 'preload', 'first-run-preload.cjs'),
          // Static files are not compiled, so they are read from the source tree (packaged via electron-builder.yml).
          firstRunHtml: path.join(appRoot, 'electron', 'main', 'first-run.html'),
          icon: path.join(appRoot, 'build', 'icons', '256x256.png'),
          serverDataDir: path.join(app.getPath('userData'), 'server'),
        },
        new DesktopSettings(),
        (config) => startServer(config),
      );
      return desktop.start();
    })
    .catch((err: unknown) => {
      // Only a bug gets here (server start failures are handled in DesktopApp).
      dialog.showErrorBox('vPlus', `vPlus could not start: ${err instanceof Error ? err.message : String(err)}`);
      app.exit(1);
    });
}
