/**
 * Table auto-layout squeezes badges to min-content and Mantine then ellipsises their label;
 * badges in table cells keep their natural width with this.
 */
export const NO_SHRINK = { flexShrink: 0, minWidth: 'max-content' } as const;
