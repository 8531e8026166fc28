import { Button, Group, Text } from '@mantine/core';
import { IconChevronLeft, IconChevronRight, IconChevronsLeft } from '@tabler/icons-react';
import type { CursorPages } from '../hooks/use-cursor-pages.js';

interface CursorPagerProps {
  pages: CursorPages;
  /** The shown page's nextCursor: null on the last page. */
  nextCursor: string | null | undefined;
  /** Rows on the page shown, and what they are ("tasks"). */
  shown: number;
  what: string;
  busy?: boolean;
}

/**
 * Newer / older pages of a list that grows without end: no page count (counting a year of
 * rows costs more than the page), the page number and where the rows shown start instead.
 */
export function CursorPager({ pages, nextCursor, shown, what, busy = false }: CursorPagerProps) {
  const first = pages.page === 1;
  const last = nextCursor === null || nextCursor === undefined;
  if (first && last) return null;
  return (
    <Group justify="space-between" p="xs" aria-label={`Pages of ${what}`} role="navigation">
      <Text size="sm" c="dimmed" aria-live="polite">
        {first ? `The newest ${shown} ${what}` : `Page ${pages.page}: ${shown} older ${what}`}
      </Text>
      <Group gap="xs">
        <Button variant="default" size="xs" leftSection={<IconChevronsLeft size={14} aria-hidden />} disabled={first || busy} onClick={pages.newest}>
          Newest
        </Button>
        <Button variant="default" size="xs" leftSection={<IconChevronLeft size={14} aria-hidden />} disabled={first || busy} onClick={pages.newer}>
          Newer
        </Button>
        <Button
          variant="default"
          size="xs"
          rightSection={<IconChevronRight size={14} aria-hidden />}
          disabled={last || busy}
          onClick={() => nextCursor && pages.older(nextCursor)}
        >
          Older
        </Button>
      </Group>
    </Group>
  );
}
