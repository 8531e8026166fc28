import path from 'node:path';
import { dialog, ipcMain, type BrowserWindow, type IpcMainInvokeEvent } from 'electron';
import { z } from 'zod';
import type { DesktopIpcChannel, DesktopIpcChannels } from '../preload/desktop-api.js';
import { openExternalHttps } from './window-security.js';

type Handler<C extends DesktopIpcChannel> = (
  event: IpcMainInvokeEvent,
  ...args: unknown[]
) => Promise<DesktopIpcChannels[C]['result']> | DesktopIpcChannels[C]['result'];

/** ipcMain.handle, typed against the channel list the preloads share. */
export function handle<C extends DesktopIpcChannel>(channel: C, handler: Handler<C>): void {
  ipcMain.handle(channel, handler);
}

const PickFolderOptionsSchema = z
  .object({
    title: z.string().max(200).optional(),
    defaultPath: z
      .string()
      .max(4096)
      .refine((p) => path.isAbsolute(p), 'defaultPath must be absolute')
      .optional(),
  })
  .strict()
  .optional();

const UrlSchema = z.string().max(8192);

/**
 * The main window's desktop extras. Each handler checks who is asking (the
 * main window, showing the server's origin) and what it asks, as the page is
 * web content.
 */
export function registerDesktopIpc(deps: { mainWindow: () => BrowserWindow | null; serverOrigin: () => string | null }): void {
  const trustedWindow = (event: IpcMainInvokeEvent): BrowserWindow => {
    const win = deps.mainWindow();
    const frameUrl = event.senderFrame?.url ?? '';
    let origin: string | null = null;
    try {
      origin = new URL(frameUrl).origin;
    } catch {
      origin = null;
    }
    if (!win || event.sender !== win.webContents || origin === null || origin !== deps.serverOrigin()) {
      throw new Error('not allowed from this page');
    }
    return win;
  };

  handle('vplus:pick-folder', async (event, rawOptions) => {
    const win = trustedWindow(event);
    const options = PickFolderOptionsSchema.parse(rawOptions);
    const result = await dialog.showOpenDialog(win, {
      title: options?.title ?? 'Choose a folder',
      ...(options?.defaultPath ? { defaultPath: options.defaultPath } : {}),
      properties: ['openDirectory', 'createDirectory'],
    });
    return result.canceled ? null : (result.filePaths[0] ?? null);
  });

  handle('vplus:open-external', async (event, rawUrl) => {
    trustedWindow(event);
    await openExternalHttps(UrlSchema.parse(rawUrl));
  });
}
