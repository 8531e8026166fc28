import { z } from 'zod';
import { ApiErrorSchema } from '../../../common/api/errors.js';
import {
  CreateHypervisorSchema,
  CreateSnapshotSchema,
  HypervisorRefParamsSchema,
  HypervisorSchema,
  RestoreSchema,
  RevertSnapshotSchema,
  RunBackupResponseSchema,
  RunBackupSchema,
  SnapshotRefParamsSchema,
  SnapshotSchema,
  UpdateVmSchema,
  VmRefParamsSchema,
  VmSchema,
} from '../../../common/api/hypervisors.js';
import { TaskSchema } from '../../../common/api/tasks.js';
import type { InventoryService } from '../inventory/inventory.service.js';
import type { SnapshotsService } from '../inventory/snapshots.service.js';
import type { VmBackupsService } from '../inventory/vm-backups.service.js';
import { principalOf } from './access-control.js';
import type { ZodApp } from './zod-app.js';

const errors = { 400: ApiErrorSchema, 401: ApiErrorSchema, 403: ApiErrorSchema, 404: ApiErrorSchema, 409: ApiErrorSchema };

export function registerInventoryRoutes(app: ZodApp, deps: { inventory: InventoryService; backups: VmBackupsService; snapshots: SnapshotsService }): void {
  const { inventory } = deps;
  app.get('/api/hypervisors', { config: { access: { role: 'viewer' } }, schema: { tags: ['inventory'], summary: 'Hypervisor hosts', response: { 200: z.array(HypervisorSchema), ...errors } } }, async () =>
    inventory.hypervisors(),
  );
  app.post(
    '/api/hypervisors',
    {
      config: { access: { role: 'admin' } },
      schema: { tags: ['inventory'], summary: 'Add a libvirt host served by a node (lists its VMs first)', body: CreateHypervisorSchema, response: { 201: HypervisorSchema, ...errors } },
    },
    async (request, reply) => reply.code(201).send(await inventory.addHypervisor(request.body, principalOf(request))),
  );
  app.post(
    '/api/hypervisors/:hypervisor/sync',
    { config: { access: { role: 'operator' } }, schema: { tags: ['inventory'], summary: 'Refresh the VM inventory (task)', params: HypervisorRefParamsSchema, body: z.object({}).nullish(), response: { 202: TaskSchema, ...errors } } },
    async (request, reply) => reply.code(202).send(await inventory.sync(request.params.hypervisor, principalOf(request).user.username)),
  );
  app.delete(
    '/api/hypervisors/:hypervisor',
    { config: { access: { role: 'admin' } }, schema: { tags: ['inventory'], summary: 'Forget a hypervisor and its VM inventory (backups stay)', params: HypervisorRefParamsSchema, response: { 204: z.null(), ...errors } } },
    async (request, reply) => {
      await inventory.removeHypervisor(request.params.hypervisor, principalOf(request));
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/vms',
    {
      config: { access: { role: 'viewer' } },
      schema: { tags: ['inventory'], summary: 'Virtual machines', querystring: z.object({ hypervisor: z.string().max(128).optional() }), response: { 200: z.array(VmSchema), ...errors } },
    },
    async (request) => inventory.vms(request.query.hypervisor),
  );
  app.get(
    '/api/vms/:vm',
    { config: { access: { role: 'viewer' } }, schema: { tags: ['inventory'], summary: 'One VM (by id, name or UUID)', params: VmRefParamsSchema, response: { 200: VmSchema, ...errors } } },
    async (request) => inventory.vm(request.params.vm),
  );
  app.patch(
    '/api/vms/:vm',
    { config: { access: { role: 'operator' } }, schema: { tags: ['inventory'], summary: 'Choose the disks left out of backups', params: VmRefParamsSchema, body: UpdateVmSchema, response: { 200: VmSchema, ...errors } } },
    async (request) => inventory.setExcludedDisks(request.params.vm, request.body.excludedDisks, principalOf(request)),
  );

  app.get(
    '/api/vms/:vm/snapshots',
    {
      config: { access: { role: 'viewer' } },
      schema: {
        tags: ['inventory'],
        summary: "The VM's libvirt snapshots, oldest first (asks its node and waits; no task). 503 while the node is offline, 504 when it does not answer in time",
        params: VmRefParamsSchema,
        response: { 200: z.array(SnapshotSchema), ...errors, 502: ApiErrorSchema, 503: ApiErrorSchema, 504: ApiErrorSchema },
      },
    },
    async (request) => deps.snapshots.list(request.params.vm),
  );
  app.post(
    '/api/vms/:vm/snapshots',
    {
      config: { access: { role: 'operator' } },
      schema: { tags: ['inventory'], summary: 'Take an internal snapshot of the VM (SNAPSHOT task)', params: VmRefParamsSchema, body: CreateSnapshotSchema, response: { 202: TaskSchema, ...errors } },
    },
    async (request, reply) => reply.code(202).send(await deps.snapshots.create(request.params.vm, request.body?.name, principalOf(request))),
  );
  app.post(
    '/api/vms/:vm/snapshots/:name/revert',
    {
      config: { access: { role: 'operator' } },
      schema: {
        tags: ['inventory'],
        summary: 'Revert the VM to a snapshot (SNAPSHOT task; refused while the VM has backup checkpoints unless discardCheckpoints)',
        params: SnapshotRefParamsSchema,
        body: RevertSnapshotSchema,
        response: { 202: TaskSchema, ...errors },
      },
    },
    async (request, reply) => reply.code(202).send(await deps.snapshots.revert(request.params.vm, request.params.name, request.body?.discardCheckpoints ?? false, principalOf(request))),
  );
  app.delete(
    '/api/vms/:vm/snapshots/:name',
    { config: { access: { role: 'operator' } }, schema: { tags: ['inventory'], summary: 'Delete a snapshot of the VM (SNAPSHOT task)', params: SnapshotRefParamsSchema, response: { 202: TaskSchema, ...errors } } },
    async (request, reply) => reply.code(202).send(await deps.snapshots.remove(request.params.vm, request.params.name, principalOf(request))),
  );

  app.post(
    '/api/backups/run',
    { config: { access: { role: 'operator' } }, schema: { tags: ['backups'], summary: 'Back up a VM now (EXPORT → STORE workflow)', body: RunBackupSchema, response: { 202: RunBackupResponseSchema, ...errors } } },
    async (request, reply) => reply.code(202).send(await deps.backups.run(request.body, principalOf(request))),
  );
  app.post(
    '/api/restores',
    {
      config: { access: { role: 'operator' } },
      schema: { tags: ['backups'], summary: 'Restore a backup to files on a node, or as a new VM on a hypervisor', body: RestoreSchema, response: { 202: RunBackupResponseSchema, ...errors } },
    },
    async (request, reply) => reply.code(202).send(await deps.backups.restore(request.body, principalOf(request))),
  );
}
