import { safeStorage } from 'electron';
import Store from 'electron-store';
import type { CatalogChoice } from '../preload/desktop-api.js';
import { CatalogChoiceSchema } from './catalog-choice.js';

/** What is on disk. A remote URL carries the database password, so it is encrypted when the OS offers a keyring. */
type StoredCatalog =
  | { mode: 'managed' }
  | { mode: 'remote'; dbUrlEncrypted: string }
  | { mode: 'remote'; dbUrl: string };

interface DesktopSettingsData {
  catalog?: StoredCatalog;
}

/**
 * The desktop shell's own settings (electron-store, in userData, mode 0600):
 * only the first-run catalog choice. Everything else is the server's, in its
 * catalog.
 */
export class DesktopSettings {
  private readonly store = new Store<DesktopSettingsData>({ name: 'desktop-settings', configFileMode: 0o600 });

  /** The saved choice; undefined when there is none or it can no longer be read (e.g. the keyring changed). */
  catalogChoice(): CatalogChoice | undefined {
    const stored = this.store.get('catalog');
    if (!stored) return undefined;
    let candidate: unknown = stored;
    if (stored.mode === 'remote' && 'dbUrlEncrypted' in stored) {
      try {
        candidate = { mode: 'remote', dbUrl: safeStorage.decryptString(Buffer.from(stored.dbUrlEncrypted, 'base64')) };
      } catch {
        return undefined;
      }
    }
    const parsed = CatalogChoiceSchema.safeParse(candidate);
    return parsed.success ? parsed.data : undefined;
  }

  setCatalogChoice(choice: CatalogChoice): void {
    if (choice.mode === 'managed') {
      this.store.set('catalog', { mode: 'managed' });
    } else if (safeStorage.isEncryptionAvailable()) {
      this.store.set('catalog', { mode: 'remote', dbUrlEncrypted: safeStorage.encryptString(choice.dbUrl).toString('base64') });
    } else {
      this.store.set('catalog', { mode: 'remote', dbUrl: choice.dbUrl });
    }
  }

  clearCatalogChoice(): void {
    this.store.delete('catalog');
  }
}
