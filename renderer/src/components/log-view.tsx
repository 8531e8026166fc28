import { Box, ScrollArea, Text } from '@mantine/core';
import { useLayoutEffect, useRef } from 'react';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogViewLine {
  key: string | number;
  /** Shown as a time prefix when present. */
  at?: string;
  level?: LogLevel;
  text: string;
}

const LEVEL_COLORS: Record<LogLevel, string | undefined> = {
  debug: 'dimmed',
  info: undefined,
  warn: 'yellow.7',
  error: 'red.6',
};

const timeOfDay = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });

function formatTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : timeOfDay.format(date);
}

interface LogViewProps {
  lines: readonly LogViewLine[];
  /** Accessible name, e.g. "Task log". */
  label: string;
  height?: number;
  empty?: string;
}

/**
 * Monospace log that follows new lines while the reader is at the bottom, and stays put when
 * they scrolled up to read something.
 */
export function LogView({ lines, label, height = 320, empty = 'No log lines yet.' }: LogViewProps) {
  const viewport = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);

  useLayoutEffect(() => {
    const element = viewport.current;
    if (element !== null && atBottom.current) element.scrollTop = element.scrollHeight;
  }, [lines]);

  const onScroll = () => {
    const element = viewport.current;
    if (element === null) return;
    atBottom.current = element.scrollHeight - element.scrollTop - element.clientHeight < 24;
  };

  return (
    <Box
      bg="var(--mantine-color-default-hover)"
      style={{ borderRadius: 'var(--mantine-radius-md)', border: '1px solid var(--mantine-color-default-border)' }}
    >
      <ScrollArea h={height} viewportRef={viewport} onScrollPositionChange={onScroll} type="auto" offsetScrollbars>
        <Box role="log" aria-label={label} p="sm" ff="monospace" fz="xs" style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>
          {lines.length === 0 && (
            <Text size="xs" c="dimmed" ff="monospace">
              {empty}
            </Text>
          )}
          {lines.map((line) => (
            <Text
              key={line.key}
              size="xs"
              ff="monospace"
              c={line.level === undefined ? undefined : LEVEL_COLORS[line.level]}
              fw={line.level === 'error' ? 600 : undefined}
              data-level={line.level}
            >
              {line.at !== undefined && (
                <Text span inherit c="dimmed" fw={400}>
                  {`${formatTime(line.at)}  `}
                </Text>
              )}
              {line.text}
            </Text>
          ))}
        </Box>
      </ScrollArea>
    </Box>
  );
}
