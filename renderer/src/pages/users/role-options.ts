import { ROLES, type Role } from '@common/api/index.js';

const ROLE_LABELS: Record<Role, string> = {
  admin: 'Admin: everything, including users',
  operator: 'Operator: runs and configures backups',
  viewer: 'Viewer: read-only',
};

export const ROLE_OPTIONS = ROLES.map((role) => ({ value: role, label: ROLE_LABELS[role] }));

export const ROLE_COLORS: Record<Role, string> = { admin: 'red', operator: 'blue', viewer: 'gray' };
