import { Button, Modal, Stack, type MantineColor, type ModalProps } from '@mantine/core';
import { useState, type ReactNode } from 'react';
import { DialogActions } from './dialog-actions.js';
import { FormError } from './form-error.js';

export interface ConfirmModalProps {
  title: string;
  /** What confirming does, in plain words. */
  children: ReactNode;
  confirmLabel: string;
  confirmColor?: MantineColor;
  cancelLabel?: string;
  size?: ModalProps['size'];
  /**
   * Does the change; the caller closes the dialog once it resolves. A rejection keeps it open
   * with the server's reason shown inside (so its mutation sets meta.inlineErrors, not a toast).
   */
  onConfirm: () => Promise<unknown>;
  onClose: () => void;
}

/** A yes/no question before a change. Cancel has the focus, so Enter never confirms by accident. */
export function ConfirmModal({
  title,
  children,
  confirmLabel,
  confirmColor = 'red',
  cancelLabel = 'Cancel',
  size,
  onConfirm,
  onClose,
}: ConfirmModalProps) {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const confirm = async () => {
    setPending(true);
    setError(null);
    try {
      await onConfirm();
    } catch (failure) {
      setError(failure);
    } finally {
      setPending(false);
    }
  };

  return (
    <Modal opened onClose={onClose} title={title} size={size}>
      <Stack>
        {children}
        <FormError error={error} />
        <DialogActions>
          <Button variant="default" onClick={onClose} data-autofocus>
            {cancelLabel}
          </Button>
          <Button color={confirmColor} loading={pending} onClick={() => void confirm()}>
            {confirmLabel}
          </Button>
        </DialogActions>
      </Stack>
    </Modal>
  );
}
