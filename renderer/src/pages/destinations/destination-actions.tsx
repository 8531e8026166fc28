import type { Destination } from '@common/api/index.js';
import { ActionIcon, Button, Group, Menu, Tooltip } from '@mantine/core';
import {
  IconChecklist,
  IconCut,
  IconDatabaseImport,
  IconDots,
  IconEdit,
  IconKey,
  IconRecycle,
  IconRefresh,
  IconTrash,
  type Icon,
} from '@tabler/icons-react';
import { useState } from 'react';
import { useDestinationActionMutation } from '../../api/destinations.queries.js';
import { useSession } from '../../auth/session-context.js';
import { NO_SHRINK } from '../../utils/styles.js';
import { GcDialog, RefreshDialog, ReimportDialog, VerifyDialog } from './action-dialogs.js';
import { PruneDialog } from './prune-dialog.js';
import { RemoveDestinationModal } from './remove-destination-modal.js';
import { RenameDestinationModal } from './rename-destination-modal.js';
import { ResetPasswordModal } from './reset-password-modal.js';

export type DestinationActionKey = 'verify' | 'prune' | 'gc' | 'import' | 'refresh' | 'rename' | 'resetPassword' | 'remove';

const LOOK: Record<DestinationActionKey, { label: string; icon: Icon; color?: string; admin: boolean }> = {
  verify: { label: 'Verify', icon: IconChecklist, admin: false },
  prune: { label: 'Prune', icon: IconCut, admin: false },
  gc: { label: 'Collect garbage', icon: IconRecycle, admin: false },
  import: { label: 'Re-import', icon: IconDatabaseImport, admin: false },
  refresh: { label: 'Refresh', icon: IconRefresh, admin: false },
  rename: { label: 'Rename', icon: IconEdit, admin: true },
  resetPassword: { label: 'Reset password', icon: IconKey, admin: true },
  remove: { label: 'Remove', icon: IconTrash, color: 'red', admin: true },
};
const ORDER: readonly DestinationActionKey[] = ['verify', 'prune', 'gc', 'import', 'refresh', 'rename', 'resetPassword', 'remove'];

type Dialog = { kind: Exclude<DestinationActionKey, 'refresh'> } | { kind: 'refresh'; taskId: number };

interface DestinationActionsProps {
  destination: Destination;
  /**
   * 'row': in a table row, the main action (Verify) labelled, the other maintenance actions as
   * icons with tooltips and the administrator's behind a menu; 'buttons': every action labelled,
   * on the destination's own page.
   */
  variant?: 'row' | 'buttons';
  /** After a removal from the destination's own page, leave it. */
  onRemoved?: () => void;
}

/** The action a destination's row shows as a button: checking that its backups can be read. */
const ROW_ACTION: DestinationActionKey = 'verify';

/**
 * A destination's actions, each shown only to roles that may use it: maintenance (a task,
 * followed live in its dialog) for operators; rename, a new password set with the recovery key
 * (encrypted destinations) and removal for administrators.
 */
export function DestinationActions({ destination, variant = 'buttons', onRemoved }: DestinationActionsProps) {
  const { isAdmin, canChange } = useSession();
  const [dialog, setDialog] = useState<Dialog | null>(null);
  // Refresh has nothing to ask: it starts at once and its dialog follows the task.
  const refresh = useDestinationActionMutation(false);

  const run = (action: DestinationActionKey) => {
    if (action === 'refresh') {
      refresh.mutate(
        { destinationId: destination.id, request: { action: 'refresh', body: {} } },
        { onSuccess: (task) => setDialog({ kind: 'refresh', taskId: task.id }) },
      );
    } else {
      setDialog({ kind: action });
    }
  };

  // Only an encrypted destination has a password to reset (with its recovery key).
  const visible = ORDER.filter((action) => (LOOK[action].admin ? isAdmin : canChange) && (action !== 'resetPassword' || destination.encrypted));
  if (visible.length === 0) return null;
  const close = () => setDialog(null);

  // In a table row the rarely used administrator actions wait behind a menu to keep the row short.
  const row = variant === 'row';
  const inMenu = row ? visible.filter((action) => LOOK[action].admin) : [];
  const shown = visible.filter((action) => !inMenu.includes(action));

  return (
    <>
      <Group gap={row ? 2 : 'xs'} wrap={row ? 'nowrap' : 'wrap'} justify={row ? 'flex-end' : undefined}>
        {shown.map((action) => {
          const { label, icon: Glyph, color } = LOOK[action];
          const pending = action === 'refresh' && refresh.isPending;
          // A row's other maintenance actions are icons, named and with a tooltip.
          if (row && action !== ROW_ACTION) {
            return (
              <Tooltip key={action} label={label}>
                <ActionIcon
                  variant="subtle"
                  color={color ?? 'gray'}
                  aria-label={`${label} ${destination.name}`}
                  loading={pending}
                  onClick={() => run(action)}
                >
                  <Glyph size={18} aria-hidden />
                </ActionIcon>
              </Tooltip>
            );
          }
          return (
            <Button
              key={action}
              size={row ? 'xs' : 'sm'}
              mr={row ? 6 : undefined}
              variant={action === 'remove' ? 'light' : 'default'}
              color={color}
              leftSection={<Glyph size={row ? 14 : 16} aria-hidden />}
              aria-label={row ? `${label} ${destination.name}` : undefined}
              loading={pending}
              onClick={() => run(action)}
              style={row ? NO_SHRINK : undefined}
            >
              {label}
            </Button>
          );
        })}
        {inMenu.length > 0 && (
          <Menu position="bottom-end" withinPortal>
            <Menu.Target>
              <Tooltip label="More actions">
                <ActionIcon variant="subtle" color="gray" aria-label={`More actions for ${destination.name}`}>
                  <IconDots size={18} aria-hidden />
                </ActionIcon>
              </Tooltip>
            </Menu.Target>
            <Menu.Dropdown>
              {inMenu.map((action) => {
                const { label, icon: Glyph, color } = LOOK[action];
                return (
                  <Menu.Item key={action} color={color} leftSection={<Glyph size={16} aria-hidden />} onClick={() => run(action)}>
                    {label}
                  </Menu.Item>
                );
              })}
            </Menu.Dropdown>
          </Menu>
        )}
      </Group>
      {dialog?.kind === 'verify' && <VerifyDialog destination={destination} onClose={close} />}
      {dialog?.kind === 'prune' && <PruneDialog destination={destination} onClose={close} />}
      {dialog?.kind === 'gc' && <GcDialog destination={destination} onClose={close} />}
      {dialog?.kind === 'import' && <ReimportDialog destination={destination} onClose={close} />}
      {dialog?.kind === 'refresh' && <RefreshDialog destination={destination} taskId={dialog.taskId} onClose={close} />}
      {dialog?.kind === 'rename' && <RenameDestinationModal destination={destination} onClose={close} />}
      {dialog?.kind === 'resetPassword' && <ResetPasswordModal destination={destination} onClose={close} />}
      {dialog?.kind === 'remove' && <RemoveDestinationModal destination={destination} onClose={close} onRemoved={onRemoved} />}
    </>
  );
}
