import { Button, Checkbox, Collapse, Group, Stack, Text, TextInput } from '@mantine/core';
import { IconAdjustmentsHorizontal, IconSearch, IconX } from '@tabler/icons-react';
import { useState } from 'react';
import { EMPTY_MAIL_SEARCH, isMailSearchEmpty, mailSearchCriteria, type MailSearchForm } from '../../utils/exchange-format.js';

interface MailSearchBarProps {
  /** The search being shown, or null when a folder is. */
  active: MailSearchForm | null;
  onSearch: (form: MailSearchForm | null) => void;
}

/**
 * Words, or a sender, subject, attachment name and days, searched across the whole mailbox of
 * the backup (every folder) from its metadata; "Clear" goes back to the folder.
 */
export function MailSearchBar({ active, onSearch }: MailSearchBarProps) {
  const [form, setForm] = useState<MailSearchForm>(active ?? EMPTY_MAIL_SEARCH);
  const [more, setMore] = useState(active !== null && (active.from !== '' || active.subject !== '' || active.attachment !== '' || active.after !== '' || active.before !== '' || active.hasAttachments));
  const [error, setError] = useState<string | null>(null);
  const set = (change: Partial<MailSearchForm>) => {
    setForm((old) => ({ ...old, ...change }));
    setError(null);
  };
  const submit = () => {
    if (isMailSearchEmpty(form)) return onSearch(null);
    const outcome = mailSearchCriteria(form);
    if ('error' in outcome) return setError(outcome.error);
    onSearch(form);
  };
  const clear = () => {
    setForm(EMPTY_MAIL_SEARCH);
    setError(null);
    onSearch(null);
  };

  return (
    <form
      role="search"
      aria-label="Search the mailbox"
      noValidate
      onSubmit={(event) => {
        event.preventDefault();
        submit();
      }}
    >
      <Stack gap="xs">
        <Group gap="xs" wrap="nowrap" align="flex-start">
          <TextInput
            style={{ flex: 1 }}
            aria-label="Search mail"
            placeholder="Search every folder: sender, recipients, subject, attachment names"
            leftSection={<IconSearch size={16} aria-hidden />}
            value={form.q}
            onChange={(event) => set({ q: event.currentTarget.value })}
            spellCheck={false}
          />
          <Button type="submit">Search</Button>
          <Button variant="default" leftSection={<IconAdjustmentsHorizontal size={16} aria-hidden />} aria-expanded={more} onClick={() => setMore((was) => !was)}>
            Filters
          </Button>
          {active !== null && (
            <Button variant="subtle" leftSection={<IconX size={16} aria-hidden />} onClick={clear}>
              Clear
            </Button>
          )}
        </Group>
        <Collapse expanded={more}>
          <Group gap="xs" align="flex-end" wrap="wrap">
            <TextInput label="Sender" placeholder="name or address" value={form.from} onChange={(event) => set({ from: event.currentTarget.value })} w={200} spellCheck={false} />
            <TextInput label="Subject" value={form.subject} onChange={(event) => set({ subject: event.currentTarget.value })} w={200} />
            <TextInput label="Attachment name" placeholder="invoice.pdf" value={form.attachment} onChange={(event) => set({ attachment: event.currentTarget.value })} w={180} spellCheck={false} />
            <TextInput label="Received since" type="date" value={form.after} max={form.before || undefined} onChange={(event) => set({ after: event.currentTarget.value })} w={160} />
            <TextInput label="Received until" type="date" value={form.before} min={form.after || undefined} onChange={(event) => set({ before: event.currentTarget.value })} w={160} />
            <Checkbox label="With attachments" checked={form.hasAttachments} onChange={(event) => set({ hasAttachments: event.currentTarget.checked })} mb={8} />
          </Group>
        </Collapse>
        {error !== null && (
          <Text size="sm" c="red" role="alert">
            {error}
          </Text>
        )}
      </Stack>
    </form>
  );
}
