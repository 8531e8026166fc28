import { Menu, Tray, nativeImage } from 'electron';

/** The tray icon: the app keeps running (and serving nodes) with its window closed. */
export function createTray(options: { iconPath: string; onOpen: () => void; onQuit: () => void }): Tray {
  const image = nativeImage.createFromPath(options.iconPath);
  const tray = new Tray(image.isEmpty() ? image : image.resize({ width: 24, height: 24, quality: 'best' }));
  tray.setToolTip('vPlus');
  tray.setContextMenu(
    Menu.buildFromTemplate([
      { label: 'Open vPlus', click: options.onOpen },
      { type: 'separator' },
      { label: 'Quit vPlus', click: options.onQuit },
    ]),
  );
  // Some Linux trays send click, others only show the menu; both open the window.
  tray.on('click', options.onOpen);
  return tray;
}
