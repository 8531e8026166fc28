import type { SubjectInfo } from '@common/api/index.js';
import { describeSubject } from '@common/api/task-subject.js';
import { formatDateTime } from './format.js';

/** "VM web-1", "Backup of web-1 (07/12/2026, 22:00)": a backup's time in the viewer's zone. */
export function subjectLabel(item: { subject: string | null; subjectInfo: SubjectInfo | null }): string | null {
  return describeSubject(item.subjectInfo, (iso) => formatDateTime(iso)) ?? item.subject;
}
