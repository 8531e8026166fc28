import { describe, expect, it } from 'vitest';
import { partTotal } from '../../../node-service/agent/handlers/m365-backup.handler.js';

const progress = (p: Partial<Parameters<typeof partTotal>[0]>): Parameters<typeof partTotal>[0] => ({
  items: 0,
  downloadedFiles: 0,
  downloadedBytes: 0,
  queuedFiles: 0,
  queuedBytes: 0,
  enumerated: true,
  warnings: 0,
  ...p,
});

describe('the total a Microsoft 365 part downloads (the progress bar and its ETA)', () => {
  it('is what the drive listed when Graph gave sizes', () => {
    expect(partTotal(progress({ queuedFiles: 10, queuedBytes: 1000, downloadedFiles: 2, downloadedBytes: 150 }))).toBe(1000);
  });

  it('is estimated from the messages downloaded so far when Graph gave no sizes (a mailbox)', () => {
    // 4 of 10 messages, 400 bytes: about 1,000 in all; the bar is at 40 %, not at 100 %.
    expect(partTotal(progress({ queuedFiles: 10, downloadedFiles: 4, downloadedBytes: 400 }))).toBe(1000);
    expect(partTotal(progress({ queuedFiles: 10, downloadedFiles: 10, downloadedBytes: 1234 }))).toBe(1234);
  });

  it('is what was downloaded when nothing is queued or nothing came yet', () => {
    expect(partTotal(progress({}))).toBe(0);
    expect(partTotal(progress({ queuedFiles: 5 }))).toBe(0);
  });
});
