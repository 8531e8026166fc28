import { Alert, Anchor, Group, Paper, Tabs } from '@mantine/core';
import { IconArrowLeft, IconLock, IconTicket, IconWand } from '@tabler/icons-react';
import { Link } from 'react-router-dom';
import { useSession } from '../auth/session-context.js';
import { PageHeader } from '../components/page-header.js';
import { InstallWizard } from './nodes/install/install-wizard.js';
import { ManualEnrollment } from './nodes/install/manual-enrollment.js';

export function InstallNodePage() {
  const { isAdmin } = useSession();
  return (
    <>
      <Anchor component={Link} to="/nodes" size="sm">
        <Group gap={4} component="span">
          <IconArrowLeft size={14} aria-hidden />
          All nodes
        </Group>
      </Anchor>
      <PageHeader title="Install node" description="Put a node on this computer or on a Linux host, and enroll it with this server." />
      {!isAdmin ? (
        <Alert color="gray" icon={<IconLock />} title="Only administrators can install nodes">
          Ask an administrator to install or enroll a node.
        </Alert>
      ) : (
        <Tabs defaultValue="install" keepMounted={false}>
          <Tabs.List mb="lg">
            <Tabs.Tab value="install" leftSection={<IconWand size={16} aria-hidden />}>
              Install from here
            </Tabs.Tab>
            <Tabs.Tab value="manual" leftSection={<IconTicket size={16} aria-hidden />}>
              Enroll by hand
            </Tabs.Tab>
          </Tabs.List>
          <Tabs.Panel value="install">
            <Paper withBorder radius="md" p="lg">
              <InstallWizard />
            </Paper>
          </Tabs.Panel>
          <Tabs.Panel value="manual">
            <Paper withBorder radius="md" p="lg">
              <ManualEnrollment />
            </Paper>
          </Tabs.Panel>
        </Tabs>
      )}
    </>
  );
}
