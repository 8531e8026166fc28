/**
 * Help is the README of the version that is running, bundled into the UI at build time and
 * shown by the Help page (/help): it works offline and on an air-gapped server, needs no
 * public URL, and never describes another version than the one in front of the admin.
 * Links point at its sections by their GitHub-style anchors, so the same anchors work on
 * the repository's rendered README too.
 */
export const HELP_PATH = '/help';

/** The README's section headings the UI links to. */
export const HELP_SECTIONS = {
  firstRun: 'First run',
  dataDir: 'Where data lives',
  nodes: 'Nodes',
  tasks: 'Tasks',
  jobs: 'Jobs',
  destinations: 'Backup destinations',
  vms: 'Virtual machines (KVM/libvirt)',
  m365: 'Microsoft 365',
  browse: 'Browse files (file-level restore) and iSCSI export',
  policies: 'Policies and the scheduler',
  api: 'API',
} as const;
export type HelpSection = keyof typeof HELP_SECTIONS;

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function headingSlug(text: string): string {
  return text
    .toLowerCase()
    .trim()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

export function helpHref(section: HelpSection): string {
  return `${HELP_PATH}#${headingSlug(HELP_SECTIONS[section])}`;
}

/** The section for a page of the app, by its path; undefined where the README says nothing. */
export function helpSectionFor(pathname: string): HelpSection | undefined {
  const first = pathname.split('/')[1] ?? '';
  const byPage: Record<string, HelpSection> = {
    '': 'firstRun',
    nodes: 'nodes',
    tasks: 'tasks',
    jobs: 'jobs',
    destinations: 'destinations',
    vms: 'vms',
    m365: 'm365',
    backups: 'vms',
    mounts: 'browse',
    policies: 'policies',
    settings: 'dataDir',
    about: 'dataDir',
  };
  return byPage[first];
}
