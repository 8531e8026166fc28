import { createHmac, randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DailyReport, DailyReportSendResult, NotificationSettings, UpdateNotificationSettings } from '../../../common/api/notifications.js';
import type { PolicyRun } from '../../../common/api/policies.js';
import type { Node } from '../../../common/api/nodes.js';
import type { Task, TaskDetails } from '../../../common/api/tasks.js';
import { AuditRepository } from '../../../electron/server/auth/audit.repository.js';
import { AuditService } from '../../../electron/server/auth/audit.service.js';
import { Catalog } from '../../../electron/server/db/catalog.js';
import { EventBus } from '../../../electron/server/events/event-bus.js';
import { NotificationsService } from '../../../electron/server/notifications/notifications.service.js';
import { SecretBox } from '../../../electron/server/security/secret-box.js';
import { SecretsRepository } from '../../../electron/server/security/secrets.repository.js';
import type { TaskHandler } from '../../../node-service/agent/task-handler.js';
import { TaskError } from '../../../node-service/agent/task-handler.js';
import { enrollTestNode, type TestNode } from '../../support/test-node.js';
import { setupAdmin, startTestServer, type TestServer, taskEnded } from '../../support/test-server.js';
import { SmtpSink, WebhookReceiver, type ReceivedMail } from './mail-sinks.js';

const HOOK_SECRET = 'events-hook-secret';
const HOUR = 3600_000;
const GIB = 1024 ** 3;

/** Node handlers that fail the way real ones do: with a message the admin can act on. */
const failing = (type: string, message: string): TaskHandler => ({
  type,
  run: async (ctx) => {
    ctx.log('warn', `${type.toLowerCase()} is about to give up`);
    throw new TaskError(message);
  },
});

/**
 * What gets notified, end to end: tasks failing on a real node agent through the real task
 * engine of a real server, e-mailed by the server to a real SMTP server on loopback and posted
 * to a real webhook receiver; policy events and the daily report through the service class on
 * the same catalog (the scheduler calls it the same way).
 */
describe('notifications of failed tasks, policy runs and the daily report', () => {
  let t: TestServer;
  let admin: string;
  let node: TestNode;
  let smtp: SmtpSink;
  let hook: WebhookReceiver;
  let catalog: Catalog;
  let service: NotificationsService;
  /** The instant the daily report test pretends it is: far enough ahead that this run's own tasks fall outside its 24 hours. */
  const REPORT_NOW = Math.floor(Date.now() / HOUR) * HOUR + 10 * 24 * HOUR;
  const reportTime = new Date(Date.now() + 12 * HOUR).toISOString().slice(11, 16);

  const api = <T>(method: string, p: string, body?: unknown) => t.api.request<T>(method, p, body, { token: admin });
  const ended = (id: number): Promise<TaskDetails> => taskEnded(t.api, admin, id);
  const to = (m: ReceivedMail): string => [...m.to].sort().join(',');

  beforeAll(async () => {
    [smtp, hook] = await Promise.all([SmtpSink.start({ mode: 'plain' }), WebhookReceiver.start()]);
    t = await startTestServer({ nodeHeartbeatSeconds: 1, taskRetryBaseSeconds: 0.2 });
    admin = await setupAdmin(t.api);
    node = await enrollTestNode(t.api, admin, {
      name: 'worker-1',
      handlers: [failing('NODE_CHECK', 'the staging disk is full: 0 bytes free on /var/lib/vplus/staging'), failing('EXPORT', "libvirt: domain 'prod-db' not found")],
      serverUrl: t.server.url,
      fingerprint: t.server.fingerprint,
    });
    const settings: UpdateNotificationSettings = {
      smtp: { host: '127.0.0.1', port: smtp.port, security: 'none', username: null, from: 'vplus@example.com', trustedCa: null },
      webhook: { url: hook.url, secret: HOOK_SECRET },
      rules: [
        { events: ['task.failed', 'policy.failed'], channel: 'email', recipients: ['ops@example.com', 'oncall@example.com'] },
        { events: ['policy.missed'], channel: 'email', recipients: ['OPS@example.com'] },
        { events: ['report.daily'], channel: 'email', recipients: ['boss@example.com', 'ops@example.com'] },
        { events: ['task.failed', 'policy.missed', 'report.daily'], channel: 'webhook', recipients: [] },
      ],
      dailyReport: { enabled: true, time: reportTime, timeZone: 'UTC' },
    };
    const saved = await api<NotificationSettings>('PATCH', '/api/notifications/settings', settings);
    expect(saved.status, saved.text).toBe(200);

    // The same catalog and secret key the server uses, for the service-level tests.
    catalog = new Catalog({ mode: 'managed', pool: { socketPath: path.join(t.dataDir, 'mariadb', 'run', 'mysqld.sock'), user: os.userInfo().username, database: 'vplus' } });
    const logger = pino({ level: process.env.VPLUS_TEST_LOG ?? 'silent' });
    service = new NotificationsService({
      catalog,
      secrets: new SecretsRepository(catalog, await SecretBox.open(path.join(t.dataDir, 'secret.key'))),
      engine: { listeners: { onAny: () => undefined } },
      audit: new AuditService(new AuditRepository(catalog), new EventBus(), logger),
      logger,
      clock: { now: () => REPORT_NOW },
    });
  });
  afterAll(async () => {
    await node?.stop();
    await catalog?.close();
    await t?.destroy();
    await Promise.all([smtp?.close(), hook?.close()]);
  });

  const verifySignature = (p: { body: string; headers: Record<string, unknown> }): void => {
    expect(p.headers['x-vplus-signature']).toBe(`sha256=${createHmac('sha256', HOOK_SECRET).update(p.body).digest('hex')}`);
  };

  it('e-mails the recipients of the task.failed rule when a task fails on its node, and posts it to the webhook', async () => {
    const created = await api<Task>('POST', '/api/tasks/node-check', { node: 'worker-1', sampleBytes: 1048576 });
    expect(created.status).toBe(201);
    const task = await ended(created.body.id);
    expect(task.state).toBe('FAILED');

    const mail = await smtp.next((m) => m.subject.includes('NODE_CHECK'));
    expect(to(mail)).toBe('oncall@example.com,ops@example.com');
    expect(mail.from).toBe('vplus@example.com');
    expect(mail.subject).toBe('[vPlus] NODE_CHECK task of node:worker-1 failed');
    expect(mail.text).toContain(`NODE_CHECK task ${task.id}`);
    expect(mail.text).toMatch(/Subject:\s+node:worker-1/);
    expect(mail.text).toMatch(/Node:\s+worker-1/);
    expect(mail.text).toMatch(/Error:\s+the staging disk is full: 0 bytes free on \/var\/lib\/vplus\/staging/);
    expect(mail.text).toContain('[warn] node_check is about to give up');
    expect(mail.text).toContain(`Tasks → task ${task.id}`);

    const post = await hook.next((p) => p.json.event === 'task.failed' && (p.json.task as { id: number }).id === task.id);
    verifySignature(post);
    expect(post.headers['x-vplus-event']).toBe('task.failed');
    expect(post.json).toMatchObject({
      event: 'task.failed',
      server: os.hostname(),
      task: { id: task.id, type: 'NODE_CHECK', state: 'FAILED', subject: 'node:worker-1', node: 'worker-1', error: 'the staging disk is full: 0 bytes free on /var/lib/vplus/staging' },
      workflow: null,
    });
    expect(String(post.json.text)).toContain('failed');
    // Not a params dump: nothing a node was told goes to a chat room.
    expect(post.json.task).not.toHaveProperty('params');
  });

  it('sends one message per failed workflow, not one per task of it', async () => {
    const nodes = await api<Node[]>('GET', '/api/nodes');
    const nodeId = nodes.body.find((n) => n.name === 'worker-1')!.id;
    const hv = await catalog.execute("INSERT INTO hypervisors (name, node_id, uri, status) VALUES ('kvm-1', ?, 'qemu:///system', 'ok')", [nodeId]);
    await catalog.execute("INSERT INTO vms (hypervisor_id, uuid, name, state, disks, excluded_disks) VALUES (?, ?, 'prod-db', 'running', '[]', '[]')", [hv.insertId, randomUUID()]);
    await catalog.execute("INSERT INTO destinations (name, node_id, path, encrypted, status) VALUES ('local', ?, '/srv/vplus', 0, 'ok')", [nodeId]);

    const run = await api<{ workflowId: number; taskIds: number[]; message?: string }>('POST', '/api/backups/run', { vm: 'prod-db', destination: 'local', full: true });
    expect(run.status, run.body.message).toBe(202);
    const [exportTask, storeTask] = await Promise.all(run.body.taskIds.map((id) => ended(id)));
    expect(exportTask!.state).toBe('FAILED');
    expect(storeTask!.state).toBe('CANCELLED');

    const mail = await smtp.next((m) => m.subject.includes('vm:prod-db'));
    expect(mail.subject).toBe('[vPlus] Backup of vm:prod-db failed');
    expect(to(mail)).toBe('oncall@example.com,ops@example.com');
    expect(mail.text).toContain(`BACKUP workflow ${run.body.workflowId}, step EXPORT (task ${exportTask!.id})`);
    expect(mail.text).toContain("libvirt: domain 'prod-db' not found");
    const post = await hook.next((p) => (p.json.workflow as { id: number } | null)?.id === run.body.workflowId);
    verifySignature(post);
    expect(post.json).toMatchObject({ task: { id: exportTask!.id, type: 'EXPORT', error: "libvirt: domain 'prod-db' not found" }, workflow: { type: 'BACKUP', subject: 'vm:prod-db' } });

    // A second message for the workflow would have been queued when its STORE step ended, before
    // the task below even started: once that task's own messages are in, the workflow's count is final.
    const later = await api<Task>('POST', '/api/tasks/node-check', { node: 'worker-1', sampleBytes: 1048576 });
    expect(later.status).toBe(201);
    expect((await ended(later.body.id)).state).toBe('FAILED');
    await smtp.next((m) => m.text.includes(`NODE_CHECK task ${later.body.id}`));
    await hook.next((p) => p.json.event === 'task.failed' && (p.json.task as { id: number }).id === later.body.id);
    expect(smtp.messages.filter((m) => m.subject.includes('vm:prod-db'))).toHaveLength(1);
    expect(hook.posts.filter((p) => (p.json.workflow as { id: number } | null)?.id === run.body.workflowId)).toHaveLength(1);
  });

  const run = (over: Partial<PolicyRun>): PolicyRun => ({
    id: 41,
    policyId: 7,
    policy: 'nightly',
    purpose: 'run',
    workflowIds: [],
    trigger: 'schedule',
    backupType: 'incremental',
    scheduledFor: '2026-11-24T22:00:00.000Z',
    startedAt: null,
    finishedAt: '2026-11-25T02:00:00.000Z',
    state: 'missed',
    vms: 0,
    succeeded: 0,
    failed: 0,
    cancelled: 0,
    message: 'not started within its 4h window (the server was not running at 2026-11-24T22:00:00.000Z)',
    ...over,
  });

  it('e-mails a missed policy run to its rule’s recipients and posts it to the webhook', async () => {
    smtp.clear();
    await service.notify({ kind: 'policy.missed', run: run({}) });
    const mail = await smtp.next((m) => m.subject.includes('nightly'));
    expect(mail.to).toEqual(['OPS@example.com']);
    expect(mail.subject).toBe('[vPlus] Policy "nightly" missed its run of 2026-11-24 22:00');
    expect(mail.text).toMatch(/Scheduled for:\s+2026-11-24 22:00 \(UTC\)/);
    expect(mail.text).toContain('not started within its 4h window');
    const post = await hook.next((p) => p.json.event === 'policy.missed');
    verifySignature(post);
    expect(post.json).toMatchObject({ event: 'policy.missed', run: { id: 41, policy: 'nightly', state: 'missed' } });
  });

  it('e-mails a policy run that ended with failures (no webhook rule for it)', async () => {
    smtp.clear();
    const before = hook.posts.length;
    await service.notify({ kind: 'policy.failed', run: run({ id: 42, state: 'finished_with_warnings', vms: 5, succeeded: 3, failed: 2, message: null, startedAt: '2026-11-24T22:00:01.000Z' }) });
    const mail = await smtp.next();
    expect(to(mail)).toBe('oncall@example.com,ops@example.com');
    expect(mail.subject).toBe('[vPlus] Policy "nightly" run finished with warnings: 2 of 5 VMs failed');
    expect(mail.text).toMatch(/VMs:\s+5: 3 succeeded, 2 failed, 0 cancelled/);
    // Delivery to every channel of the event is over once idle() resolves.
    await service.idle();
    expect(hook.posts.length).toBe(before);
  });

  it('never throws from notify, whatever the channels do', async () => {
    const logger = pino({ level: 'silent' });
    let sends = 0;
    const broken = new NotificationsService({
      catalog,
      secrets: new SecretsRepository(catalog, await SecretBox.open(path.join(t.dataDir, 'secret.key'))),
      engine: { listeners: { onAny: () => undefined } },
      audit: new AuditService(new AuditRepository(catalog), new EventBus(), logger),
      logger,
      clock: { now: () => Date.now() },
      mailer: {
        send: () => {
          sends++;
          return Promise.reject(new Error('the mail relay is on fire'));
        },
      },
      webhooks: { post: () => Promise.reject(new Error('so is the webhook')) },
    });
    await expect(broken.notify({ kind: 'policy.missed', run: run({}) })).resolves.toBeUndefined();
    await expect(broken.idle()).resolves.toBeUndefined();
    await expect(broken.runDailyReport(Date.now())).resolves.toBeUndefined();
    expect(sends).toBe(2);
  });

  it('tells the scheduler when to send the daily report', async () => {
    expect(await service.dailyReportSchedule()).toEqual({ spec: `daily ${reportTime}`, timeZone: 'UTC' });
  });

  it('sends the daily report of the 24 hours before now: backups done, failed, missed and space used', async () => {
    const at = (hoursBefore: number): Date => new Date(REPORT_NOW - hoursBefore * HOUR);
    const nodeId = (await api<Node[]>('GET', '/api/nodes')).body[0]!.id;
    const workflow = async (type: string, state: string, subject: string, hoursBefore: number, tasks: [string, string, string | null][]): Promise<{ id: number; taskIds: number[] }> => {
      const w = await catalog.execute('INSERT INTO workflows (type, state, subject, created_by, created_at, finished_at) VALUES (?, ?, ?, ?, ?, ?)', [type, state, subject, 'scheduler', at(hoursBefore + 1), at(hoursBefore)]);
      const taskIds: number[] = [];
      for (const [seq, [taskType, taskState, error]] of tasks.entries()) {
        const r = await catalog.execute(
          "INSERT INTO tasks (workflow_id, seq, type, state, subject, params, error, node_id, created_at, started_at, finished_at) VALUES (?, ?, ?, ?, ?, '{}', ?, ?, ?, ?, ?)",
          [w.insertId, seq, taskType, taskState, subject, error, nodeId, at(hoursBefore + 1), at(hoursBefore + 1), at(hoursBefore)],
        );
        taskIds.push(r.insertId);
      }
      return { id: w.insertId, taskIds };
    };
    await workflow('BACKUP', 'FINISHED', 'vm:alpha', 2, [['EXPORT', 'FINISHED', null], ['STORE', 'FINISHED', null]]);
    await workflow('BACKUP', 'FINISHED_WITH_WARNINGS', 'vm:beta', 3, [['EXPORT', 'FINISHED', null], ['STORE', 'FINISHED_WITH_WARNINGS', null]]);
    const gamma = await workflow('BACKUP', 'FAILED', 'vm:gamma', 5, [['EXPORT', 'FINISHED', null], ['STORE', 'FAILED', 'destination /mnt/nas is not mounted']]);
    await workflow('BACKUP', 'FINISHED', 'vm:too-old', 30, [['EXPORT', 'FINISHED', null], ['STORE', 'FINISHED', null]]);
    await workflow('RESTORE', 'FAILED', 'backup:17', 1, [['RESTORE', 'FAILED', 'no space left on /restore']]);

    const policy = await catalog.execute(
      "INSERT INTO policies (name, kind, enabled, time_zone, schedules, assignment) VALUES ('weekday-vms', 'backup', 0, 'UTC', '[]', '{\"include\":[],\"exclude\":[],\"hypervisors\":[],\"mode\":\"assign-only\"}')",
    );
    const policyRun = async (state: string, scheduledHoursBefore: number, finishedHoursBefore: number | null, message: string | null): Promise<void> => {
      await catalog.execute(
        "INSERT INTO policy_runs (policy_id, purpose, `trigger`, backup_type, scheduled_for, started_at, finished_at, state, message, workflows, created_at) VALUES (?, 'run', 'schedule', 'incremental', ?, NULL, ?, ?, ?, '[]', ?)",
        [policy.insertId, at(scheduledHoursBefore), finishedHoursBefore === null ? null : at(finishedHoursBefore), state, message, at(scheduledHoursBefore)],
      );
    };
    await policyRun('missed', 20, 16, 'not started within its 4h window');
    await policyRun('missed', 40, 36, 'too old to count');
    await policyRun('failed', 8, 6, 'every VM failed');
    await policyRun('finished', 9, 7, null);

    const dest = await catalog.execute(
      "INSERT INTO destinations (name, node_id, path, encrypted, status, backups, stored_bytes, logical_bytes, free_bytes, total_bytes) VALUES ('nas', ?, '/mnt/nas/vplus', 1, 'ok', 12, ?, ?, ?, ?)",
      [nodeId, 5 * GIB, 20 * GIB, 100 * GIB, 500 * GIB],
    );
    await catalog.execute('INSERT INTO destination_usage (destination_id, at, stored_bytes, logical_bytes, backups) VALUES (?, ?, ?, ?, 10)', [dest.insertId, at(30), 4 * GIB, 16 * GIB]);

    smtp.clear();
    await service.runDailyReport(REPORT_NOW);
    const mail = await smtp.next((m) => m.subject.includes('Daily report'));
    const day = new Date(REPORT_NOW).toISOString().slice(0, 10);
    expect(to(mail)).toBe('boss@example.com,ops@example.com');
    expect(mail.subject).toBe(`[vPlus] Daily report ${day}: 2 backups done, 1 failed, 1 missed`);
    const text = mail.text;
    expect(text).toContain(`Period: ${new Date(REPORT_NOW - 24 * HOUR).toISOString().slice(0, 16).replace('T', ' ')} – ${new Date(REPORT_NOW).toISOString().slice(0, 16).replace('T', ' ')} (UTC)`);
    expect(text).toMatch(/Done:\s+2 \(1 with warnings\)/);
    expect(text).toMatch(/Failed:\s+1\n/);
    expect(text).toMatch(/Missed runs:\s+1\n/);
    expect(text).toContain(`vm:gamma (workflow ${gamma.id}, task ${gamma.taskIds[1]}`);
    expect(text).toContain('destination /mnt/nas is not mounted');
    expect(text).not.toContain('vm:too-old');
    expect(text).toContain(`weekday-vms, scheduled ${at(20).toISOString().slice(0, 16).replace('T', ' ')}: not started within its 4h window`);
    expect(text).not.toContain('too old to count');
    expect(text).toContain('Policy runs: 1 finished, 1 failed, 1 missed');
    expect(text).toMatch(/RESTORE task \d+ for backup:17: no space left on \/restore/);
    expect(text).toContain('nas: 5.00 GiB stored (+1.00 GiB in 24 h), 20.0 GiB of data in 12 backups; 100 GiB free of 500 GiB');

    const post = await hook.next((p) => p.json.event === 'report.daily');
    verifySignature(post);
    const report = post.json.report as DailyReport;
    expect(report.backups).toMatchObject({ succeeded: 2, withWarnings: 1, failed: 1, cancelled: 0 });
    expect(report.policyRuns).toMatchObject({ finished: 1, failed: 1, missed: 1 });
    expect(report.destinations.find((d) => d.name === 'nas')).toMatchObject({ storedBytes: 5 * GIB, storedChangeBytes: GIB, backups: 12 });
  });

  it('sends the report now from the API, and shows what it would hold', async () => {
    const preview = await api<DailyReport>('GET', '/api/notifications/daily-report');
    expect(preview.status).toBe(200);
    // This run's own failures are within the last 24 hours of real time.
    expect(preview.body.backups.failures.some((f) => f.subject === 'vm:prod-db' && f.error === "libvirt: domain 'prod-db' not found")).toBe(true);
    expect(preview.body.otherFailedTasks.some((f) => f.type === 'NODE_CHECK' && f.subject === 'node:worker-1')).toBe(true);

    smtp.clear();
    const sent = await api<DailyReportSendResult>('POST', '/api/notifications/daily-report', {});
    expect(sent.status, sent.text).toBe(200);
    expect(sent.body.sentTo.sort()).toEqual(['email:boss@example.com', 'email:ops@example.com', 'webhook']);
    expect(sent.body.failures).toEqual([]);
    const mail = await smtp.next((m) => m.subject.includes('Daily report'));
    expect(mail.text).toContain('vm:prod-db');
    expect(mail.text).toMatch(/NODE_CHECK task \d+ for node:worker-1: the staging disk is full/);
  });
});
