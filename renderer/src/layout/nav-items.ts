import type { Role } from '@common/api/index.js';
import {
  IconArchive,
  IconBrandOffice,
  IconFolderSearch,
  IconCalendarTime,
  IconDatabase,
  IconDeviceDesktop,
  IconGauge,
  IconHistory,
  IconInfoCircle,
  IconListCheck,
  IconListDetails,
  IconServer,
  IconSettings,
  type Icon,
} from '@tabler/icons-react';

export interface NavItem {
  label: string;
  to: string;
  icon: Icon;
  /** Only these roles see it (their pages' API refuses the others); everyone when absent. */
  roles?: readonly Role[];
}

/** Order matches how an admin works: infrastructure, then what runs on it, then configuration. */
export const NAV_ITEMS: readonly NavItem[] = [
  { label: 'Dashboard', to: '/', icon: IconGauge },
  { label: 'Nodes', to: '/nodes', icon: IconServer },
  { label: 'Virtual machines', to: '/vms', icon: IconDeviceDesktop },
  { label: 'Microsoft 365', to: '/m365', icon: IconBrandOffice },
  { label: 'Backups', to: '/backups', icon: IconArchive },
  { label: 'Mounts', to: '/mounts', icon: IconFolderSearch, roles: ['admin', 'operator'] },
  { label: 'Jobs', to: '/jobs', icon: IconListDetails },
  /** Every single task, for experts; Jobs shows them grouped. */
  { label: 'Tasks', to: '/tasks', icon: IconListCheck },
  { label: 'Policies', to: '/policies', icon: IconCalendarTime },
  { label: 'Destinations', to: '/destinations', icon: IconDatabase },
  { label: 'Settings', to: '/settings', icon: IconSettings },
  { label: 'Audit log', to: '/audit', icon: IconHistory },
  { label: 'About', to: '/about', icon: IconInfoCircle },
];

export function navItemsFor(role: Role): NavItem[] {
  return NAV_ITEMS.filter((item) => item.roles === undefined || item.roles.includes(role));
}

/** "/" is active only on itself; other items also own their sub-routes (/settings/users). */
export function isNavItemActive(item: NavItem, pathname: string): boolean {
  if (item.to === '/') return pathname === '/';
  return pathname === item.to || pathname.startsWith(`${item.to}/`);
}
