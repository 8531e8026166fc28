import { Badge, Tooltip } from '@mantine/core';
import { useConnectionState } from '../events/connection-state-context.js';
import type { ConnectionState } from '../events/server-events-connection.js';

const LOOK: Record<ConnectionState, { color: string; label: string; hint: string }> = {
  open: { color: 'green', label: 'Live', hint: 'Connected: changes on the server appear here at once.' },
  connecting: { color: 'gray', label: 'Connecting…', hint: 'Opening the live connection to the server.' },
  reconnecting: {
    color: 'yellow',
    label: 'Reconnecting…',
    hint: 'Lost the live connection to the server; retrying. Pages still refresh on their own.',
  },
};

export function ConnectionIndicator() {
  const state = useConnectionState();
  const look = LOOK[state];
  return (
    <Tooltip label={look.hint} multiline w={260}>
      <Badge variant="dot" color={look.color} role="status" aria-label={`Live updates: ${look.label}`} data-state={state}>
        {look.label}
      </Badge>
    </Tooltip>
  );
}
