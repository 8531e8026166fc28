import { AppShell, Badge, Burger, Button, Group, Text, VisuallyHidden } from '@mantine/core';
import { IconLogout, IconShieldCheck } from '@tabler/icons-react';
import { useLocation } from 'react-router-dom';
import { useLogoutMutation } from '../api/auth.queries.js';
import { useSession } from '../auth/session-context.js';
import { HelpLink } from '../help/help-link.js';
import { helpSectionFor } from '../help/help-topics.js';
import { ColorSchemeToggle } from './color-scheme-toggle.js';
import { ConnectionIndicator } from './connection-indicator.js';

interface AppHeaderProps {
  navbarOpened: boolean;
  onToggleNavbar: () => void;
}

export function AppHeader({ navbarOpened, onToggleNavbar }: AppHeaderProps) {
  const { user } = useSession();
  const logout = useLogoutMutation();
  const help = helpSectionFor(useLocation().pathname);
  // RequireSession notices the ended session and shows the sign-in page.
  const signOut = () => logout.mutate();

  return (
    <AppShell.Header>
      <Group h="100%" px="md" justify="space-between" wrap="nowrap">
        <Group gap="sm" wrap="nowrap">
          <Burger opened={navbarOpened} onClick={onToggleNavbar} hiddenFrom="sm" size="sm" aria-label="Toggle navigation" />
          <IconShieldCheck size={24} aria-hidden />
          <Text fw={700} size="lg">
            vPlus
          </Text>
        </Group>
        <Group gap="sm" wrap="nowrap">
          {/* Each page's help: the README's section about it. */}
          {help !== undefined && <HelpLink section={help} />}
          <ConnectionIndicator />
          <ColorSchemeToggle />
          <Group gap={6} wrap="nowrap" visibleFrom="xs">
            <VisuallyHidden>Signed in as</VisuallyHidden>
            <Text size="sm" fw={500} data-testid="current-user">
              {user.username}
            </Text>
            <Badge variant="light" size="sm" data-testid="current-role">
              {user.role}
            </Badge>
          </Group>
          <Button variant="default" size="xs" leftSection={<IconLogout size={16} />} loading={logout.isPending} onClick={signOut}>
            Sign out
          </Button>
        </Group>
      </Group>
    </AppShell.Header>
  );
}
