import { Alert, Paper, Tabs } from '@mantine/core';
import { IconLock, IconTicket, IconWand } from '@tabler/icons-react';
import { useSession } from '../auth/session-context.js';
import { BackLink } from '../components/back-link.js';
import { PageHeader } from '../components/page-header.js';
import { InstallWizard } from './nodes/install/install-wizard.js';
import { ManualEnrollment } from './nodes/install/manual-enrollment.js';

export function InstallNodePage() {
  const { isAdmin } = useSession();
  return (
    <>
      <BackLink to="/nodes" label="All nodes" />
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
