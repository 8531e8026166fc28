import { z } from 'zod';
import { DashboardQuerySchema } from '../../../common/api/dashboard.js';
import { ApiErrorSchema } from '../../../common/api/errors.js';
import {
  AssignVmsSchema,
  ChangePolicyVmsSchema,
  CreatePolicySchema,
  DashboardSchema,
  PolicyPreviewRequestSchema,
  PolicyPreviewSchema,
  PolicyRefParamsSchema,
  PolicyRunPageSchema,
  PolicyRunSchema,
  PolicyRunsQuerySchema,
  PolicySchema,
  RunPolicySchema,
  UpdatePolicySchema,
} from '../../../common/api/policies.js';
import type { DashboardService } from '../policies/dashboard.service.js';
import type { PoliciesService } from '../policies/policies.service.js';
import { principalOf } from './access-control.js';
import type { ZodApp } from './zod-app.js';

const errors = { 400: ApiErrorSchema, 401: ApiErrorSchema, 403: ApiErrorSchema, 404: ApiErrorSchema, 409: ApiErrorSchema };
const params = PolicyRefParamsSchema;
const tags = ['policies'];

export function registerPolicyRoutes(app: ZodApp, deps: { policies: PoliciesService; dashboard: DashboardService }): void {
  const svc = deps.policies;
  app.get('/api/policies', { config: { access: { role: 'viewer' } }, schema: { tags, summary: 'Backup policies', response: { 200: z.array(PolicySchema), ...errors } } }, async () => svc.list());

  app.post(
    '/api/policies',
    { config: { access: { role: 'admin' } }, schema: { tags, summary: 'Create a policy (its rules assign matching VMs at once)', body: CreatePolicySchema, response: { 201: PolicySchema, ...errors } } },
    async (request, reply) => reply.code(201).send(await svc.create(request.body, principalOf(request))),
  );

  app.post(
    '/api/policies/preview',
    {
      // The create/edit form's preview: for those who may create and edit policies.
      config: { access: { role: 'admin' } },
      schema: { tags, summary: 'What a policy would do: its next runs, which VMs match, which backups its retention keeps', body: PolicyPreviewRequestSchema, response: { 200: PolicyPreviewSchema, ...errors } },
    },
    async (request) => svc.preview(request.body),
  );

  app.get(
    '/api/policy-runs',
    {
      config: { access: { role: 'viewer' } },
      schema: { tags, summary: 'Policy runs and misses, newest first, a page at a time (keyset: pass nextCursor back as cursor)', querystring: PolicyRunsQuerySchema, response: { 200: PolicyRunPageSchema, ...errors } },
    },
    async (request) => svc.runs(request.query),
  );

  app.get(
    '/api/dashboard',
    { config: { access: { role: 'viewer' } }, schema: { tags, summary: 'Dashboard numbers', querystring: DashboardQuerySchema, response: { 200: DashboardSchema, ...errors } } },
    async (request) => deps.dashboard.get(request.query),
  );

  app.get('/api/policies/:policy', { config: { access: { role: 'viewer' } }, schema: { tags, summary: 'One policy', params, response: { 200: PolicySchema, ...errors } } }, async (request) =>
    svc.get(request.params.policy),
  );

  app.patch(
    '/api/policies/:policy',
    { config: { access: { role: 'admin' } }, schema: { tags, summary: 'Change a policy', params, body: UpdatePolicySchema, response: { 200: PolicySchema, ...errors } } },
    async (request) => svc.update(request.params.policy, request.body, principalOf(request)),
  );

  app.delete(
    '/api/policies/:policy',
    { config: { access: { role: 'admin' } }, schema: { tags, summary: 'Remove a policy (its backups stay)', params, response: { 204: z.null(), ...errors } } },
    async (request, reply) => {
      await svc.remove(request.params.policy, principalOf(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/policies/:policy/assign',
    { config: { access: { role: 'admin' } }, schema: { tags, summary: 'Put VMs in the policy by hand', params, body: AssignVmsSchema, response: { 200: PolicySchema, ...errors } } },
    async (request) => svc.assign(request.params.policy, request.body.vms, principalOf(request)),
  );

  app.post(
    '/api/policies/:policy/unassign',
    { config: { access: { role: 'admin' } }, schema: { tags, summary: 'Take VMs out of the policy', params, body: AssignVmsSchema, response: { 200: PolicySchema, ...errors } } },
    async (request) => svc.unassign(request.params.policy, request.body.vms, principalOf(request)),
  );

  app.post(
    '/api/policies/:policy/vms',
    {
      // The create/edit form's VM checklist: what assign and unassign do, in one call, all or nothing.
      config: { access: { role: 'admin' } },
      schema: { tags, summary: 'Put VMs in the policy by hand and take others out, in one change', params, body: ChangePolicyVmsSchema, response: { 200: PolicySchema, ...errors } },
    },
    async (request) => svc.changeVms(request.params.policy, request.body, principalOf(request)),
  );

  app.post(
    '/api/policies/:policy/run',
    { config: { access: { role: 'operator' } }, schema: { tags, summary: 'Run the policy now', params, body: RunPolicySchema, response: { 202: PolicyRunSchema, ...errors } } },
    async (request, reply) => reply.code(202).send(await svc.runNow(request.params.policy, request.body?.backupType, principalOf(request))),
  );

  app.post(
    '/api/policies/:policy/verify',
    { config: { access: { role: 'operator' } }, schema: { tags, summary: "Verify the policy's destination now (the next part of its rotation)", params, response: { 202: PolicyRunSchema, ...errors } } },
    async (request, reply) => reply.code(202).send(await svc.verifyNow(request.params.policy, principalOf(request))),
  );
  app.post(
    '/api/policies/:policy/retention',
    { config: { access: { role: 'operator' } }, schema: { tags, summary: "Apply the policy's retention now (prune, then GC)", params, response: { 202: PolicyRunSchema, ...errors } } },
    async (request, reply) => reply.code(202).send(await svc.retentionNow(request.params.policy, principalOf(request))),
  );

  app.get(
    '/api/policies/:policy/runs',
    {
      config: { access: { role: 'viewer' } },
      schema: { tags, summary: "The policy's runs and misses, newest first, a page at a time", params, querystring: PolicyRunsQuerySchema.omit({ policy: true }), response: { 200: PolicyRunPageSchema, ...errors } },
    },
    async (request) => svc.runs({ ...request.query, policy: request.params.policy }),
  );
}
