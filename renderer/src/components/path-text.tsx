import { Code } from '@mantine/core';
import { Fragment, type CSSProperties } from 'react';
import { pathParts } from '../utils/path-parts.js';

/**
 * Each name (with the separator after it) is an inline-block: a line breaks between names,
 * never inside one that fits on a line (not even at its hyphens). A name longer than the whole
 * line is capped at its width and broken anywhere inside, so nothing overflows.
 */
const PART: CSSProperties = { display: 'inline-block', maxWidth: '100%', overflowWrap: 'anywhere' };
const WHOLE: CSSProperties = { overflowWrap: 'anywhere' };

interface PathTextProps {
  path: string;
  /** Set in Mantine's Code (for paths in running text); otherwise the surrounding text's font. */
  code?: boolean;
}

/**
 * A file or directory path that wraps at its separators (/ and \) instead of overflowing or
 * breaking inside a name. Every place that shows a path (destinations, disks, restore targets,
 * files in a mount) shows it with this. Copying it copies the path unchanged.
 */
export function PathText({ path, code = false }: PathTextProps) {
  const parts = pathParts(path).map((part, index) => (
    <Fragment key={index}>
      <span style={PART}>{part}</span>
      <wbr />
    </Fragment>
  ));
  return code ? (
    <Code style={WHOLE} data-path={path}>
      {parts}
    </Code>
  ) : (
    <span style={WHOLE} data-path={path}>
      {parts}
    </span>
  );
}
