/**
 * Preload of the local first-run page: lets it submit the catalog choice and
 * nothing else. Sandboxed, hence CommonJS and no imports but 'electron'.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a sandboxed preload is CommonJS; this is TS's CJS import
import electron = require('electron');
import type { FirstRunApi, FirstRunResult } from './desktop-api.js';

const api: FirstRunApi = {
  submit: (choice) => electron.ipcRenderer.invoke('vplus:first-run-submit', choice) as Promise<FirstRunResult>,
};

electron.contextBridge.exposeInMainWorld('vplusFirstRun', api);
