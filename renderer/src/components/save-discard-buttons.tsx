import { Button, Group } from '@mantine/core';

interface SaveDiscardButtonsProps {
  /** Something changed since the last save. */
  dirty: boolean;
  saving: boolean;
  /** Back to what is saved (and forget the last refusal). */
  onDiscard: () => void;
}

/** A settings form's "Discard changes" and "Save" (a submit button), right-aligned; both idle until something changed. */
export function SaveDiscardButtons({ dirty, saving, onDiscard }: SaveDiscardButtonsProps) {
  return (
    <Group justify="flex-end">
      <Button variant="default" disabled={!dirty || saving} onClick={onDiscard}>
        Discard changes
      </Button>
      <Button type="submit" loading={saving} disabled={!dirty}>
        Save
      </Button>
    </Group>
  );
}
