import { describe, expect, it } from 'vitest';
import { describeSubject, subjectInfo } from '../../../common/api/task-subject.js';

const at = (iso: string): string => iso.slice(0, 10);

describe('task subjects in words', () => {
  it('names a VM backup and a Microsoft 365 backup by what they are of, with their time', () => {
    expect(describeSubject(subjectInfo('backup:12', { vmName: 'web-1', createdAt: '2026-12-07T22:00:00.000Z' }), at)).toBe('Backup of web-1 (2026-12-07)');
    expect(describeSubject(subjectInfo('m365-backup:5', { vmName: 'alice@contoso.com', createdAt: '2026-12-06T03:00:00.000Z' }), at)).toBe('Microsoft 365 backup of alice@contoso.com (2026-12-06)');
  });

  it('falls back to the id when the catalog no longer has the backup', () => {
    expect(describeSubject(subjectInfo('m365-backup:5'), at)).toBe('Microsoft 365 backup #5');
    expect(describeSubject(subjectInfo('backup:9'), at)).toBe('Backup #9');
  });

  it('names users and sites of Microsoft 365', () => {
    expect(describeSubject(subjectInfo('m365-user:alice@contoso.com'), at)).toBe('Microsoft 365 user alice@contoso.com');
    expect(describeSubject(subjectInfo('m365-site:finance'), at)).toBe('SharePoint site finance');
  });
});
