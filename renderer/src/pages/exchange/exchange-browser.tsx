import type { M365Backup, Mount } from '@common/api/index.js';
import { Tabs } from '@mantine/core';
import { IconAddressBook, IconCalendar, IconFolders, IconMail } from '@tabler/icons-react';
import { useSearchParams } from 'react-router-dom';
import { hasDrivePart, type ExchangePart } from '../../utils/exchange-format.js';
import { FileExplorer } from '../mounts/file-explorer.js';
import { MailBrowser } from './mail-browser.js';
import { CalendarList, ContactList } from './pim-lists.js';

type View = 'files' | ExchangePart;
const LABELS: Record<View, string> = { files: 'Files', mail: 'Mail', calendar: 'Calendar', contacts: 'Contacts' };
const ICONS = { files: IconFolders, mail: IconMail, calendar: IconCalendar, contacts: IconAddressBook } as const;

/**
 * A Microsoft 365 backup with a mailbox, calendars or contacts: a tab for each besides the
 * files (the explorer, which also shows their folders as they are stored). The tab is in the
 * address (?view=mail), so Back and links work; the explorer's own links leave it, back to Files.
 */
export function ExchangeBrowser({ mount, backup, parts }: { mount: Mount; backup: M365Backup; parts: readonly ExchangePart[] }) {
  const [params, setParams] = useSearchParams();
  // Files first when there is a OneDrive; else the mailbox first, its raw files last.
  const views: View[] = hasDrivePart(backup) ? ['files', ...parts] : [...parts, 'files'];
  const asked = params.get('view');
  const view: View = views.find((candidate) => candidate === asked) ?? (params.has('path') ? 'files' : (views[0] ?? 'files'));
  return (
    <Tabs value={view} onChange={(next) => setParams(next === null || next === 'files' ? {} : { view: next })} keepMounted={false}>
      <Tabs.List mb="md" aria-label="What to browse">
        {views.map((candidate) => {
          const Icon = ICONS[candidate];
          return (
            <Tabs.Tab key={candidate} value={candidate} leftSection={<Icon size={16} aria-hidden />}>
              {LABELS[candidate]}
            </Tabs.Tab>
          );
        })}
      </Tabs.List>
      <Tabs.Panel value="files">
        <FileExplorer mount={mount} />
      </Tabs.Panel>
      <Tabs.Panel value="mail">
        <MailBrowser mount={mount} backup={backup} />
      </Tabs.Panel>
      <Tabs.Panel value="calendar">
        <CalendarList mount={mount} backup={backup} />
      </Tabs.Panel>
      <Tabs.Panel value="contacts">
        <ContactList mount={mount} backup={backup} />
      </Tabs.Panel>
    </Tabs>
  );
}
