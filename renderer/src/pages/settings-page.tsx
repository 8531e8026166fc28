import { Tabs } from '@mantine/core';
import { IconBell, IconHistory, IconServer, IconUsers } from '@tabler/icons-react';
import { Outlet, useLocation, useNavigate } from 'react-router-dom';
import { PageHeader } from '../components/page-header.js';

const TABS = [
  { value: 'server', label: 'Server', path: '/settings', icon: IconServer },
  { value: 'users', label: 'Users', path: '/settings/users', icon: IconUsers },
  { value: 'notifications', label: 'Notifications', path: '/settings/notifications', icon: IconBell },
  { value: 'history', label: 'History', path: '/settings/history', icon: IconHistory },
] as const;

/** Tabs follow the URL, so /settings/users can be bookmarked and linked to. */
export function SettingsPage() {
  const { pathname } = useLocation();
  const navigate = useNavigate();
  const active = TABS.find((tab) => tab.path !== '/settings' && pathname.startsWith(tab.path))?.value ?? 'server';

  const select = (value: string | null) => {
    const tab = TABS.find((candidate) => candidate.value === value);
    if (tab !== undefined) void navigate(tab.path);
  };

  return (
    <>
      <PageHeader title="Settings" />
      <Tabs value={active} onChange={select} keepMounted={false}>
        <Tabs.List mb="lg">
          {TABS.map((tab) => (
            <Tabs.Tab key={tab.value} value={tab.value} leftSection={<tab.icon size={16} aria-hidden />}>
              {tab.label}
            </Tabs.Tab>
          ))}
        </Tabs.List>
        {/* keepMounted={false}: only the active panel mounts, so the routed child renders once. */}
        {TABS.map((tab) => (
          <Tabs.Panel key={tab.value} value={tab.value}>
            <Outlet />
          </Tabs.Panel>
        ))}
      </Tabs>
    </>
  );
}
