import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Task, TaskType } from '../../../common/api/tasks.js';
import { TASK_TYPES } from '../../../common/api/tasks.js';
import { TASK_CONTRACTS } from '../../../common/task-contracts.js';
import { checkOutcome, checkParams, redactSecrets, TaskListeners, TaskParamsError } from '../../../electron/server/tasks/task-contracts.js';

const task = (type: TaskType, params: Record<string, unknown>, result: Record<string, unknown> | null, state: Task['state'] = 'FINISHED'): Task => ({
  id: 1,
  type,
  state,
  priority: 50,
  workflowId: null,
  dependsOn: null,
  nodeId: 1,
  node: 'n1',
  subject: null,
  subjectInfo: null,
  params,
  progress: { bytesDone: 0, bytesTotal: null, percent: null, rate: null, etaSeconds: null, message: null },
  attempt: 1,
  maxAttempts: 1,
  cancelRequested: false,
  error: null,
  warnings: [],
  result,
  createdBy: null,
  createdAt: new Date(0).toISOString(),
  startedAt: null,
  finishedAt: null,
});

const gcResult = { removedChunks: 3, freedBytes: 1024, stats: { backups: 1, logicalBytes: 1, storedBytes: 1, dedupRatio: null, compressionRatio: null } };

describe('the task registry', () => {
  it('has a contract for every task type', () => {
    expect(Object.keys(TASK_CONTRACTS).sort()).toEqual([...TASK_TYPES].sort());
  });

  it('refuses params that do not fit, naming the field, and retries the contract forbids', () => {
    expect(() => checkParams('GC', { destinationId: 3, graceHours: 0 })).not.toThrow();
    expect(() => checkParams('GC', { graceHours: 0 })).toThrow(TaskParamsError);
    expect(() => checkParams('GC', { graceHours: 0 })).toThrow(/invalid parameters \(destinationId: /);
    expect(() => checkParams('STORE', { destinationId: 1, vm: { uuid: 'u', name: 'n' }, keepCheckpoints: [], vmId: 2 }, 3)).toThrow(/must not be retried/);
    expect(() => checkParams('NODE_CHECK', { sampleBytes: 1048576 }, 2)).not.toThrow();
  });

  it('fails a finished task whose result does not fit, and keeps a failed task failed without the result', () => {
    expect(checkOutcome('GC', { state: 'FINISHED', result: gcResult })).toEqual({ state: 'FINISHED', result: gcResult });
    const bad = checkOutcome('GC', { state: 'FINISHED', warnings: ['w'], result: { removed: 3 } });
    expect(bad).toMatchObject({ state: 'FAILED', result: null, warnings: ['w'] });
    expect(bad.error).toMatch(/^the GC result does not have the shape this server expects \(removedChunks: .*\); is the node's version the server's\?/);
    const failed = checkOutcome('GC', { state: 'FAILED', error: 'disk gone', result: { removed: 3 } });
    expect(failed).toMatchObject({ state: 'FAILED', error: 'disk gone', result: null });
    expect(failed.warnings?.[0]).toMatch(/does not have the shape/);
  });

  it('calls listeners of the task type with parsed params and result, then the ones for every task', async () => {
    const l = new TaskListeners(pino({ level: 'silent' }));
    const heard: string[] = [];
    l.on('GC', async (_t, params, result) => {
      heard.push(`gc ${params.destinationId} ${result?.removedChunks}`);
    });
    l.on(['PRUNE', 'GC'], async (t) => {
      heard.push(`maintenance ${t.type}`);
    });
    l.onAny(async (t) => {
      heard.push(`any ${t.type}`);
    });
    await l.emitFinished(task('GC', { destinationId: 7, graceHours: 0 }, gcResult));
    await l.emitFinished(task('REIMPORT', { destinationId: 7 }, null, 'FAILED'));
    // Params that do not fit (an old row): the typed listeners skip it, the others still hear.
    await l.emitFinished(task('GC', { graceHours: 0 }, gcResult));
    expect(heard).toEqual(['gc 7 3', 'maintenance GC', 'any GC', 'any REIMPORT', 'any GC']);
  });

  it('adds dispatch-time params per type and keeps the password out of what the task records', async () => {
    const l = new TaskListeners(pino({ level: 'silent' }));
    l.onDispatch(['VERIFY', 'GC'], async (_t, params) => ({ repository: { path: `/repo/${params.destinationId}`, password: 'secret' } }));
    l.onDispatch('GC', async () => ({ extra: true }));
    expect(await l.dispatchParams(task('GC', { destinationId: 2, graceHours: 0 }, null, 'QUEUED'))).toEqual({ repository: { path: '/repo/2', password: 'secret' }, extra: true });
    expect(await l.dispatchParams(task('PRUNE', { destinationId: 2 }, null, 'QUEUED'))).toEqual({});
    expect(redactSecrets({ destinationId: 2, repository: { path: '/repo/2', password: 'secret' } })).toEqual({ destinationId: 2, repository: { path: '/repo/2' } });
  });

  it("keeps a Microsoft 365 tenant's client secret or private key out of what the task records, only its kind stays", () => {
    const tenant = { tenantId: 't', clientId: 'c', authorityHost: 'https://login', graphUrl: 'https://graph/v1.0', caPem: null };
    expect(redactSecrets({ m365TenantId: 1, tenant: { ...tenant, credential: { kind: 'secret', secret: 's3cret' } } })).toEqual({ m365TenantId: 1, tenant: { ...tenant, credential: { kind: 'secret' } } });
    const certificate = { kind: 'certificate', certificatePem: 'CERT', privateKeyPem: 'KEY' };
    expect(redactSecrets({ m365TenantId: 1, tenant: { ...tenant, credential: certificate } })).toEqual({ m365TenantId: 1, tenant: { ...tenant, credential: { kind: 'certificate' } } });
  });
});
