import { useState } from 'react';

export interface CursorPages {
  /** The cursor of the page shown; undefined: the first (newest) page. */
  cursor: string | undefined;
  /** 1 for the first page. */
  page: number;
  /** To the page after this one (the page's nextCursor). */
  older: (nextCursor: string) => void;
  /** Back to the page before this one. */
  newer: () => void;
  /** Back to the first page. */
  newest: () => void;
}

/**
 * Where a keyset-paged list is: the server gives only the cursor of the next page, so the
 * cursors of the pages before are kept here, to go back. `resetKey` (the filters, say) starts
 * again from the first page when it changes.
 */
export function useCursorPages(resetKey: string): CursorPages {
  const [state, setState] = useState<{ key: string; trail: (string | undefined)[]; cursor: string | undefined }>({ key: resetKey, trail: [], cursor: undefined });
  const current = state.key === resetKey ? state : { key: resetKey, trail: [], cursor: undefined };
  if (current !== state) setState(current);
  return {
    cursor: current.cursor,
    page: current.trail.length + 1,
    older: (nextCursor) => setState({ key: resetKey, trail: [...current.trail, current.cursor], cursor: nextCursor }),
    newer: () => setState({ key: resetKey, trail: current.trail.slice(0, -1), cursor: current.trail.at(-1) }),
    newest: () => setState({ key: resetKey, trail: [], cursor: undefined }),
  };
}
