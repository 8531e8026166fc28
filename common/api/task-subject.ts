import type { SubjectInfo } from './tasks.js';

/** A backup a subject names, as the catalog has it (null when the catalog no longer has it). */
export interface SubjectBackup {
  vmName: string;
  createdAt: string;
}

/**
 * What a task's or workflow's subject ("vm:web-1", "backup:12", "node:office-1") names, for
 * people. A backup is named by its VM and time, which only the catalog knows.
 */
export function subjectInfo(subject: string | null, backup: SubjectBackup | null = null): SubjectInfo | null {
  if (subject === null || subject === '') return null;
  const colon = subject.indexOf(':');
  if (colon <= 0) return { kind: 'other', name: subject, at: null };
  const kind = subject.slice(0, colon);
  const ref = subject.slice(colon + 1);
  if (kind === 'backup' || kind === 'm365-backup') return backup ? { kind, name: backup.vmName, at: backup.createdAt } : { kind, name: `#${ref}`, at: null };
  return { kind, name: ref, at: null };
}

const KIND_WORDS: Record<string, string> = {
  vm: 'VM',
  node: 'Node',
  destination: 'Destination',
  hypervisor: 'Hypervisor',
  policy: 'Policy',
  mount: 'Mount',
  'm365-tenant': 'Microsoft 365 tenant',
  'm365-user': 'Microsoft 365 user',
  'm365-site': 'SharePoint site',
  'm365-backup': 'Microsoft 365 backup',
};

/**
 * One line for a subject: "VM web-1", "Backup of web-1 (7 Dec 2026, 22:00)". `formatTime` writes a
 * backup's time (the UI passes the viewer's locale and zone).
 */
export function describeSubject(info: SubjectInfo | null, formatTime: (iso: string) => string): string | null {
  if (info === null) return null;
  if (info.kind === 'backup') return info.at === null ? `Backup ${info.name}` : `Backup of ${info.name} (${formatTime(info.at)})`;
  if (info.kind === 'm365-backup') return info.at === null ? `Microsoft 365 backup ${info.name}` : `Microsoft 365 backup of ${info.name} (${formatTime(info.at)})`;
  const word = KIND_WORDS[info.kind];
  return word === undefined ? info.name : `${word} ${info.name}`;
}
