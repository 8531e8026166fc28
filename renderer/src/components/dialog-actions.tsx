import { Group, type GroupProps } from '@mantine/core';
import type { CSSProperties, ReactNode } from 'react';

/**
 * Sticks to the bottom of the dialog's scrolling content (Mantine's Modal content scrolls;
 * its header already sticks to the top), on the body's background. The padding it adds is
 * taken back by margins, so a dialog that fits looks as before; the bottom margin also takes
 * in the body's own bottom padding, so nothing scrolls by below the buttons.
 */
const STICKY: CSSProperties = {
  position: 'sticky',
  bottom: 0,
  // Mantine's sticky header uses the same layer; dropdowns open in portals above both.
  zIndex: 1000,
  background: 'var(--mantine-color-body)',
  paddingTop: 'var(--mantine-spacing-xs)',
  marginTop: 'calc(var(--mantine-spacing-xs) * -1)',
  paddingBottom: 'var(--mb-padding, var(--mantine-spacing-md))',
  marginBottom: 'calc(var(--mb-padding, var(--mantine-spacing-md)) * -1)',
};

interface DialogActionsProps {
  children: ReactNode;
  /** 'flex-end' for Cancel + the action; 'space-between' for Back … Next. */
  justify?: GroupProps['justify'];
}

/**
 * A dialog's buttons, always in view: in a dialog taller than the window (a long form, a
 * preview's results, a task followed live) the body scrolls under the title and these buttons
 * instead of pushing the buttons off the screen. Every dialog's main buttons go in one.
 */
export function DialogActions({ children, justify = 'flex-end' }: DialogActionsProps) {
  return (
    <Group justify={justify} style={STICKY} data-dialog-actions>
      {children}
    </Group>
  );
}
