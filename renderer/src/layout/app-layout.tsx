import { AppShell } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { Outlet } from 'react-router-dom';
import { AppHeader } from './app-header.js';
import { AppNavbar } from './app-navbar.js';

export function AppLayout() {
  const [navbarOpened, { toggle, close }] = useDisclosure(false);
  return (
    <AppShell
      header={{ height: 56 }}
      navbar={{ width: 240, breakpoint: 'sm', collapsed: { mobile: !navbarOpened } }}
      padding="lg"
    >
      <AppHeader navbarOpened={navbarOpened} onToggleNavbar={toggle} />
      {/* On phones the navbar overlays the page, so it closes once a page is picked. */}
      <AppNavbar onNavigate={close} />
      <AppShell.Main>
        <Outlet />
      </AppShell.Main>
    </AppShell>
  );
}
