import { createTheme, Modal, Pagination, TableScrollContainer } from '@mantine/core';

export const theme = createTheme({
  primaryColor: 'indigo',
  defaultRadius: 'md',
  fontFamily: 'Inter, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
  headings: { fontWeight: '650' },
  components: {
    Modal: Modal.extend({
      styles: {
        // The content scrolls under a sticky title and sticky buttons (DialogActions): a field
        // reached with Tab, or scrolled to, stops clear of both instead of behind them.
        content: { scrollPaddingTop: 'calc(4.5rem * var(--mantine-scale))', scrollPaddingBottom: 'calc(5rem * var(--mantine-scale))' },
      },
    }),
    TableScrollContainer: TableScrollContainer.extend({
      defaultProps: {
        // A table takes the page's width, its columns wrapping their text to fit, and scrolls
        // sideways only below its minWidth. (In a ScrollArea it is laid out at its widest, which
        // pushes the last columns, often the row's actions, off a 1280 px screen.)
        type: 'native',
      },
    }),
    Pagination: Pagination.extend({
      defaultProps: {
        // The arrow controls are icons only: give them names.
        getControlProps: (control) => ({ 'aria-label': `${control[0]?.toUpperCase() ?? ''}${control.slice(1)} page` }),
      },
    }),
  },
});
