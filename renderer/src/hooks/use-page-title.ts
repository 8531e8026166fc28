import { useEffect } from 'react';

export const PRODUCT_NAME = 'vPlus';

/** "Backups · vPlus": tabs, history and bookmarks name the page, not only the product. */
export function pageTitle(title: string | undefined): string {
  return title ? `${title} · ${PRODUCT_NAME}` : PRODUCT_NAME;
}

export function usePageTitle(title: string | undefined): void {
  useEffect(() => {
    document.title = pageTitle(title);
  }, [title]);
}
