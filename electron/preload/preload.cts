/**
 * Preload of the main window (the admin UI served by the embedded server).
 * Sandboxed, hence CommonJS and no imports but 'electron'. It exposes a fixed
 * set of typed functions; there is no generic send(channel) for the page.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a sandboxed preload is CommonJS; this is TS's CJS import
import electron = require('electron');
import type { DesktopApi, DesktopIpcChannel, DesktopIpcChannels } from './desktop-api.js';

function invoke<C extends DesktopIpcChannel>(
  channel: C,
  ...args: DesktopIpcChannels[C]['args']
): Promise<DesktopIpcChannels[C]['result']> {
  return electron.ipcRenderer.invoke(channel, ...args) as Promise<DesktopIpcChannels[C]['result']>;
}

const api: DesktopApi = {
  platform: process.platform,
  pickFolder: (options) => invoke('vplus:pick-folder', options),
  openExternal: (url) => invoke('vplus:open-external', url),
};

electron.contextBridge.exposeInMainWorld('vplusDesktop', api);
