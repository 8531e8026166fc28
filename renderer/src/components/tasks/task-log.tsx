import type { TaskLogLine } from '@common/api/index.js';
import { useMemo } from 'react';
import { LogView, type LogViewLine } from '../log-view.js';

export function TaskLog({ log, label = 'Task log', height }: { log: readonly TaskLogLine[]; label?: string; height?: number }) {
  const lines = useMemo<LogViewLine[]>(
    () => log.map((line) => ({ key: line.id, at: line.at, level: line.level, text: line.message })),
    [log],
  );
  return <LogView lines={lines} label={label} height={height} empty="No log lines yet." />;
}
