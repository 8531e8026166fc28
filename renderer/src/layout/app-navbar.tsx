import { AppShell, NavLink } from '@mantine/core';
import { Link, useLocation } from 'react-router-dom';
import { useSession } from '../auth/session-context.js';
import { isNavItemActive, navItemsFor } from './nav-items.js';

export function AppNavbar({ onNavigate }: { onNavigate: () => void }) {
  const { pathname } = useLocation();
  const { user } = useSession();
  return (
    <AppShell.Navbar p="xs" aria-label="Main">
      {navItemsFor(user.role).map((item) => {
        const active = isNavItemActive(item, pathname);
        return (
          <NavLink
            key={item.to}
            component={Link}
            to={item.to}
            label={item.label}
            leftSection={<item.icon size={18} stroke={1.6} aria-hidden />}
            active={active}
            aria-current={active ? 'page' : undefined}
            onClick={onNavigate}
          />
        );
      })}
    </AppShell.Navbar>
  );
}
