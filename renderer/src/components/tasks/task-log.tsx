import type { TaskLogLine } from '@common/api/index.js';
import { useMemo } from 'react';
import { LogView, type LogViewLine } from '../log-view.js';

interface TaskLogProps {
  log: readonly TaskLogLine[];
  label?: string;
  height?: number;
  /** The task ended: no line will follow, so an empty log is not waiting for any. */
  final?: boolean;
}

export function TaskLog({ log, label = 'Task log', height, final = false }: TaskLogProps) {
  const lines = useMemo<LogViewLine[]>(
    () => log.map((line) => ({ key: line.id, at: line.at, level: line.level, text: line.message })),
    [log],
  );
  return <LogView lines={lines} label={label} height={height} empty={final ? 'No log lines.' : 'No log lines yet.'} />;
}
