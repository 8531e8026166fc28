import { lazy, Suspense } from 'react';
import { Route, Routes } from 'react-router-dom';
import { BootGate } from './auth/boot-gate.js';
import { RequireSession } from './auth/require-session.js';
import { AboutPage } from './pages/about-page.js';
import { AuditPage } from './pages/audit-page.js';
import { BackupsPage } from './pages/backups-page.js';
import { DashboardPage } from './pages/dashboard-page.js';
import { DestinationDetailsPage } from './pages/destination-details-page.js';
import { DestinationsPage } from './pages/destinations-page.js';
import { InstallNodePage } from './pages/install-node-page.js';
import { M365Page } from './pages/m365-page.js';
import { M365TenantPage } from './pages/m365-tenant-page.js';
import { MountExplorerPage } from './pages/mount-explorer-page.js';
import { MountsPage } from './pages/mounts-page.js';
import { NodeDetailsPage } from './pages/node-details-page.js';
import { NodesPage } from './pages/nodes-page.js';
import { NotFoundPage } from './pages/not-found-page.js';
import { PoliciesPage } from './pages/policies-page.js';
import { PolicyDetailsPage } from './pages/policy-details-page.js';
import { PolicyFormPage } from './pages/policy-form-page.js';
import { HistoryPanel } from './pages/settings/history-panel.js';
import { NotificationsPanel } from './pages/settings/notifications-panel.js';
import { ServerInfoPanel } from './pages/settings/server-info-panel.js';
import { SettingsPage } from './pages/settings-page.js';
import { SetupPage } from './pages/setup-page.js';
import { SignInPage } from './pages/sign-in-page.js';
import { TaskDetailsPage } from './pages/task-details-page.js';
import { TasksPage } from './pages/tasks-page.js';
import { JobDetailsPage } from './pages/job-details-page.js';
import { JobsPage } from './pages/jobs-page.js';
import { UsersPanel } from './pages/users/users-panel.js';
import { VmDetailsPage } from './pages/vm-details-page.js';
import { VirtualMachinesPage } from './pages/vms-page.js';

// The README it shows is most of its weight; it loads when Help is opened.
const HelpPage = lazy(async () => ({ default: (await import('./pages/help-page.js')).HelpPage }));

/**
 * BootGate (health: first-run setup?) → RequireSession (signed in?) → the app shell.
 * The server falls back to index.html for every one of these paths.
 */
export function AppRoutes() {
  return (
    <Routes>
      <Route element={<BootGate />}>
        <Route path="/setup" element={<SetupPage />} />
        <Route path="/signin" element={<SignInPage />} />
        <Route element={<RequireSession />}>
          <Route index element={<DashboardPage />} />
          <Route path="nodes" element={<NodesPage />} />
          <Route path="nodes/install" element={<InstallNodePage />} />
          <Route path="nodes/:node" element={<NodeDetailsPage />} />
          <Route path="vms" element={<VirtualMachinesPage />} />
          <Route path="vms/:vm" element={<VmDetailsPage />} />
          <Route path="m365" element={<M365Page />} />
          <Route path="m365/:tenant" element={<M365TenantPage />} />
          <Route path="backups" element={<BackupsPage />} />
          <Route path="mounts" element={<MountsPage />} />
          <Route path="mounts/:id" element={<MountExplorerPage />} />
          <Route path="jobs" element={<JobsPage />} />
          <Route path="jobs/:id" element={<JobDetailsPage />} />
          <Route path="tasks" element={<TasksPage />} />
          <Route path="tasks/:id" element={<TaskDetailsPage />} />
          <Route path="policies" element={<PoliciesPage />} />
          <Route path="policies/new" element={<PolicyFormPage />} />
          <Route path="policies/:policy" element={<PolicyDetailsPage />} />
          <Route path="policies/:policy/edit" element={<PolicyFormPage />} />
          <Route path="destinations" element={<DestinationsPage />} />
          <Route path="destinations/:destination" element={<DestinationDetailsPage />} />
          <Route path="settings" element={<SettingsPage />}>
            <Route index element={<ServerInfoPanel />} />
            <Route path="users" element={<UsersPanel />} />
            <Route path="notifications" element={<NotificationsPanel />} />
            <Route path="history" element={<HistoryPanel />} />
          </Route>
          <Route path="audit" element={<AuditPage />} />
          <Route path="about" element={<AboutPage />} />
          <Route path="help" element={<Suspense fallback={null}><HelpPage /></Suspense>} />
          <Route path="*" element={<NotFoundPage />} />
        </Route>
      </Route>
    </Routes>
  );
}
