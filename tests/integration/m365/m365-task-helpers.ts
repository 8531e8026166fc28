/**
 * What the M365 handler and mount tests share: the node's TaskRunner driving real handlers
 * (its messages checked against the protocol's schema; tasks started and cancelled as the
 * server does), the tenant settings the server adds
 * at dispatch, and the node params of a backup of one subject.
 */
import pino from 'pino';
import { NodeToServerSchema, type NodeToServer } from '../../../common/node-protocol.js';
import { m365DriveObjectKey, type M365DrivePart, type M365TenantSettings } from '../../../common/m365-tasks.js';
import type { TaskHandler } from '../../../node-service/agent/task-handler.js';
import { TaskRunner } from '../../../node-service/agent/task-runner.js';
import type { GraphEmulator, Tenant } from '../../support/graph-emulator/index.js';

export type Finished = Extract<NodeToServer, { type: 'task.finished' }>;

/** A TaskRunner whose messages are collected; `outcome` resolves each task's task.finished. */
export function taskRunner(handlers: TaskHandler[], stagingDir: string) {
  const sent: NodeToServer[] = [];
  const waiters = new Map<number, (m: Finished) => void>();
  let nextId = 1;
  const r = new TaskRunner({
    stagingDir,
    handlers,
    logger: pino({ level: process.env.VPLUS_TEST_LOG ?? 'silent' }),
    progressIntervalMs: 0,
    send: (m) => {
      sent.push(NodeToServerSchema.parse(m));
      if (m.type === 'task.finished') waiters.get(m.taskId)?.(m);
    },
  });
  /** Starts a task; `done` resolves with its task.finished and the messages it sent. */
  const begin = (type: string, params: Record<string, unknown>): { id: number; done: Promise<Finished & { messages: NodeToServer[] }> } => {
    const id = nextId++;
    const done = new Promise<Finished & { messages: NodeToServer[] }>((resolve) => {
      waiters.set(id, (m) => resolve({ ...m, messages: sent.filter((s) => 'taskId' in s && s.taskId === id) }));
      r.start({ id, type: type as 'M365_BACKUP', params, attempt: 1 });
    });
    return { id, done };
  };
  const outcome = (type: string, params: Record<string, unknown>) => begin(type, params).done;
  /** A graceful cancel, as the server asks for one. */
  const cancel = (id: number): void => r.cancel(id, false);
  return { sent, begin, outcome, cancel };
}

export function tenantSettings(emu: GraphEmulator, tenant: Tenant, clientId: string, secret: string): M365TenantSettings {
  return { tenantId: tenant.id, clientId, credential: { kind: 'secret', secret }, authorityHost: emu.authorityHost, graphUrl: emu.graphBaseUrl, caPem: emu.caPem };
}

export function drivePart(tenant: Tenant, name: string, driveId: string, label: string): M365DrivePart {
  return { kind: 'drive', name, driveId, objectKey: m365DriveObjectKey(tenant.id, driveId), label };
}

/** M365_BACKUP's params as the server dispatches them. */
export function backupParams(o: {
  settings: M365TenantSettings;
  repoPath: string;
  password: string;
  runId: string;
  subject: { kind: 'user' | 'site'; graphId: string; name: string };
  parts: M365DrivePart[];
  full?: boolean;
}): Record<string, unknown> {
  return {
    m365TenantId: 1,
    destinationId: 7,
    subject: { kind: o.subject.kind, id: 3 },
    runId: o.runId,
    full: o.full ?? false,
    tenant: o.settings,
    subjectGraphId: o.subject.graphId,
    subjectName: o.subject.name,
    parts: o.parts,
    repository: { path: o.repoPath, password: o.password },
  };
}
