import { z } from 'zod';
import { ID_LIKE_NAME_MESSAGE, notIdLike, unicodeNamePattern } from '../names.js';
import { CoverageSchema, DestinationSpaceSchema, RecentProblemsSchema, SetupProgressSchema } from './dashboard.js';
import { RetentionSchema } from './destinations.js';
import { IdCursorSchema, NextCursorSchema } from './paging.js';

/**
 * Backup and snapshot policies. Schedules are written as text, the same way in the CLI, the
 * API and the UI (see common/schedule.ts and docs/CLI.md), e.g. "incremental mon-fri 22:00",
 * "full sun 22:00", "incremental every 4h 08:00-20:00 window 1h", "full 1st sun 03:00".
 * The server validates them with parseScheduleSpec; a bad one is a 400 naming the rule.
 */

const NameSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(unicodeNamePattern(' ._-'), 'policy names may contain letters, digits, spaces, ".", "_" and "-"')
  .refine(notIdLike, ID_LIKE_NAME_MESSAGE);

/** A JavaScript regular expression over VM names, e.g. ^prod-. */
const VmNamePatternSchema = z
  .string()
  .min(1)
  .max(255)
  .refine(
    (s) => {
      try {
        new RegExp(s);
        return true;
      } catch {
        return false;
      }
    },
    { message: 'not a valid regular expression' },
  );

/**
 * backup: VMs to a destination; snapshot: hypervisor snapshots; m365: Microsoft 365 users (their
 * OneDrive) and sites (their document libraries) to a destination, chosen by the include/exclude
 * rules over user principal names and site names (common/m365-policy-members.ts).
 */
export const PolicyKindSchema = z.enum(['backup', 'snapshot', 'm365']);

/** Snapshots a snapshot policy keeps per VM when its retention does not say. */
export const DEFAULT_SNAPSHOTS_KEPT = 7;
export type PolicyKind = z.infer<typeof PolicyKindSchema>;

export const AssignModeSchema = z.enum(['assign-only', 'assign-and-remove']).describe('assign-only never takes a VM out of the policy; assign-and-remove also removes auto-assigned VMs that stop matching');

export const PolicyRetentionSchema = RetentionSchema.and(
  z.object({
    /** The newest backup of a VM that is still on its host is kept whatever the other rules say. */
    keepLatestOfExistingVm: z.boolean().default(true),
  }),
);

export const AssignmentRulesSchema = z.object({
  include: z.array(VmNamePatternSchema).max(50).default([]).describe('VM-name regexes (m365 policies: user principal names and site names, any case); a VM matching any of them is included (empty: none by name)'),
  exclude: z.array(VmNamePatternSchema).max(50).default([]).describe('VM-name regexes (m365 policies: user principal names and site names, any case); exclude wins over include'),
  hypervisors: z.array(z.string().min(1).max(64)).max(50).default([]).describe('hypervisor names; a VM on any of them is included (empty: none by host; m365 policies: always empty)'),
  mode: AssignModeSchema.default('assign-only'),
});
export type AssignmentRules = z.infer<typeof AssignmentRulesSchema>;

const ScheduleSpecSchema = z.string().min(1).max(200);
const VerifyPartsSchema = z.number().int().min(1, 'verifyParts must be at least 1 (1 checks everything at each run)').max(1000);

export const CreatePolicySchema = z.object({
  name: NameSchema,
  kind: PolicyKindSchema.default('backup'),
  /** Backup and m365 policies: the destination (id or name). Snapshot policies: none. */
  destination: z.string().min(1).max(128).optional(),
  priority: z.number().int().min(0).max(100).default(50),
  enabled: z.boolean().default(true),
  /** IANA time zone the schedules are read in; default: the server's. */
  timeZone: z.string().min(1).max(64).optional(),
  schedules: z.array(ScheduleSpecSchema).max(20).default([]),
  /** Backup and m365 policies: which backups stay; snapshot policies: keepLast = snapshots kept per VM. */
  retention: PolicyRetentionSchema.optional(),
  /** When retention (prune + GC) runs besides after each policy run, e.g. "daily 03:00". */
  retentionSchedule: ScheduleSpecSchema.nullable().optional(),
  /** Backup policies: when the destination is verified, e.g. "sun 04:00"; null = never by this policy. */
  verifySchedule: ScheduleSpecSchema.nullable().optional(),
  /** Each scheduled verify checks one of this many parts of the chunks, in turn (1 = all at once). */
  verifyParts: VerifyPartsSchema.default(1),
  assignment: AssignmentRulesSchema.default({ include: [], exclude: [], hypervisors: [], mode: 'assign-only' }),
  /** Cancel the rest of a run once more than this share of its VMs failed (percent); null = never. */
  failRunAbovePercent: z.number().int().min(0).max(100).nullable().default(null),
  /** Backup policies: copy each new backup to this destination (id or name) too; null = no copies. */
  copyTo: z.string().min(1).max(128).nullable().optional(),
  /** Which copies stay on copyTo (pruned there after each copy); null: the policy's own retention. */
  copyRetention: RetentionSchema.nullable().optional(),
});
export type CreatePolicy = z.infer<typeof CreatePolicySchema>;

/** Only the fields given change (no defaults here: a missing field keeps its value). */
export const UpdatePolicySchema = z.object({
  name: NameSchema.optional(),
  destination: z.string().min(1).max(128).optional(),
  priority: z.number().int().min(0).max(100).optional(),
  enabled: z.boolean().optional(),
  timeZone: z.string().min(1).max(64).optional(),
  schedules: z.array(ScheduleSpecSchema).max(20).optional(),
  /** null removes the retention rules (backups are then kept until removed by hand). */
  retention: PolicyRetentionSchema.nullable().optional(),
  retentionSchedule: ScheduleSpecSchema.nullable().optional(),
  verifySchedule: ScheduleSpecSchema.nullable().optional(),
  verifyParts: VerifyPartsSchema.optional(),
  assignment: AssignmentRulesSchema.optional(),
  failRunAbovePercent: z.number().int().min(0).max(100).nullable().optional(),
  /** null stops copying (the copies made stay). */
  copyTo: z.string().min(1).max(128).nullable().optional(),
  copyRetention: RetentionSchema.nullable().optional(),
});
export type UpdatePolicy = z.infer<typeof UpdatePolicySchema>;

export const PolicyRefParamsSchema = z.object({ policy: z.string().min(1).max(128).describe('id or name') });

export const PolicyRunStateSchema = z.enum(['running', 'finished', 'finished_with_warnings', 'failed', 'cancelled', 'missed']);
export const PolicyRunTriggerSchema = z.enum(['schedule', 'catch-up', 'manual', 'retention']);

export const PolicyRunSchema = z.object({
  id: z.number().int(),
  policyId: z.number().int(),
  policy: z.string(),
  /** A backup (or snapshot) run, a retention run (prune + GC), or a scheduled verify of the destination. */
  purpose: z.enum(['run', 'retention', 'verify']),
  trigger: PolicyRunTriggerSchema,
  /** The backup type the rule asked for (snapshot policies: null). */
  backupType: z.enum(['full', 'incremental']).nullable(),
  /** The schedule occurrence this run is for (null for "run now"). */
  scheduledFor: z.string().nullable(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  state: PolicyRunStateSchema,
  vms: z.number().int(),
  succeeded: z.number().int(),
  failed: z.number().int(),
  cancelled: z.number().int(),
  message: z.string().nullable(),
  /** The workflows this run started (their tasks carry these workflow ids). */
  workflowIds: z.array(z.number().int()),
});
export type PolicyRun = z.infer<typeof PolicyRunSchema>;

export const ScheduledRunSchema = z.object({
  at: z.string(),
  backupType: z.enum(['full', 'incremental']).nullable(),
  rule: z.string(),
});
export type ScheduledRun = z.infer<typeof ScheduledRunSchema>;

/** A Microsoft 365 user (by UPN) or site (by name) an m365 policy backs up. */
export const M365PolicyMemberSchema = z.object({
  kind: z.enum(['user', 'site']),
  id: z.number().int(),
  /** The user's principal name or the site's name. */
  name: z.string(),
  tenant: z.string(),
});
export type M365PolicyMember = z.infer<typeof M365PolicyMemberSchema>;

export const PolicySchema = z.object({
  id: z.number().int(),
  name: z.string(),
  kind: PolicyKindSchema,
  destinationId: z.number().int().nullable(),
  destination: z.string().nullable(),
  priority: z.number().int(),
  enabled: z.boolean(),
  timeZone: z.string(),
  schedules: z.array(z.string()),
  retention: PolicyRetentionSchema.nullable(),
  retentionSchedule: z.string().nullable(),
  verifySchedule: z.string().nullable(),
  verifyParts: z.number().int(),
  assignment: AssignmentRulesSchema,
  failRunAbovePercent: z.number().int().nullable(),
  /** Backup policies: each new backup is copied to this destination too (null: no copies). */
  copyDestinationId: z.number().int().nullable(),
  copyDestination: z.string().nullable(),
  /** Which copies stay there; null: the policy's retention. */
  copyRetention: RetentionSchema.nullable(),
  /** Names of the VMs in the policy now (m365 policies: none). */
  vms: z.array(z.object({ id: z.number().int(), name: z.string(), source: z.enum(['auto', 'manual']) })),
  /** m365 policies: the users and sites a run would back up now (absent for other kinds). */
  m365Members: z.array(M365PolicyMemberSchema).optional(),
  nextRun: ScheduledRunSchema.nullable(),
  lastRun: PolicyRunSchema.nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Policy = z.infer<typeof PolicySchema>;

export const AssignVmsSchema = z.object({ vms: z.array(z.string().min(1).max(255)).min(1).max(1000).describe('VM ids, names or UUIDs') });

const VmRefSchema = z.string().min(1).max(255);

/**
 * The create/edit form's VM checklist, saved in one call: VMs put in the policy by hand and
 * VMs taken out, all or nothing. A refusal names the list and the position ("assign.2").
 */
export const ChangePolicyVmsSchema = z
  .object({
    assign: z
      .array(VmRefSchema)
      .max(1000)
      .default([])
      .describe('VM ids, names or UUIDs put in the policy by hand; one in another policy of the same kind moves here'),
    unassign: z.array(VmRefSchema).max(1000).default([]).describe('VM ids, names or UUIDs taken out of the policy; one its rules match comes back as theirs'),
  })
  .superRefine((change, ctx) => {
    if (change.assign.length === 0 && change.unassign.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['assign'], message: 'name at least one VM to put in (assign) or take out (unassign)' });
    }
    change.unassign.forEach((vm, index) => {
      if (change.assign.includes(vm)) ctx.addIssue({ code: 'custom', path: ['unassign', index], message: `VM "${vm}" is both put in (assign) and taken out (unassign)` });
    });
  });
export type ChangePolicyVms = z.infer<typeof ChangePolicyVmsSchema>;

export const RunPolicySchema = z
  .object({
    /** Backup policies: force full or incremental; default: incremental where the chain allows. */
    backupType: z.enum(['full', 'incremental']).optional(),
  })
  .nullish();

/** Preview for the create/edit form: what a policy (saved or not) would do. */
export const PolicyPreviewRequestSchema = UpdatePolicySchema.extend({
  kind: PolicyKindSchema.optional(),
  /** Preview an existing policy's retention against its backups (edit form). */
  policy: z.string().min(1).max(128).optional(),
  count: z.number().int().min(1).max(50).default(10),
});
export type PolicyPreviewRequest = z.infer<typeof PolicyPreviewRequestSchema>;

export const PolicyPreviewSchema = z.object({
  nextRuns: z.array(ScheduledRunSchema),
  /** Schedule rules that did not parse, with the reason (so the form can show it per field). */
  scheduleErrors: z.array(z.object({ index: z.number().int(), message: z.string() })),
  assignment: z.array(
    z.object({
      vm: z.string(),
      hypervisor: z.string(),
      matches: z.boolean(),
      /** Why it matches or not, e.g. 'include ^prod-', 'excluded by -test$', 'in policy "other"'. */
      reason: z.string(),
      /** The VM's id: what the form's checklist ticks and sends. */
      vmId: z.number().int(),
      /** The VM's policy of this kind now, if any (by name, then by id). */
      currentPolicy: z.string().nullable(),
      currentPolicyId: z.number().int().nullable(),
      /** How the VM came into that policy: by its rules (auto) or by hand (manual). */
      currentSource: z.enum(['auto', 'manual']).nullable(),
    }),
  ),
  retention: z.array(
    z.object({
      backupId: z.number().int(),
      vm: z.string(),
      createdAt: z.string(),
      keep: z.boolean(),
      reasons: z.array(z.string()),
    }),
  ),
});
export type PolicyPreview = z.infer<typeof PolicyPreviewSchema>;

export const PolicyRunsQuerySchema = z.object({
  policy: z.string().min(1).max(128).optional(),
  state: PolicyRunStateSchema.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: IdCursorSchema.optional(),
});
export type PolicyRunsQuery = z.infer<typeof PolicyRunsQuerySchema>;

/** Newest first, a page at a time. */
export const PolicyRunPageSchema = z.object({ runs: z.array(PolicyRunSchema), nextCursor: NextCursorSchema });
export type PolicyRunPage = z.infer<typeof PolicyRunPageSchema>;

/** Dashboard numbers. */
export const DashboardSchema = z.object({
  nextRuns: z.array(ScheduledRunSchema.extend({ policy: z.string(), policyId: z.number().int() })),
  /**
   * Scheduled backups (workflows of policy runs the scheduler started, on time or caught up)
   * since 18:00 the previous day (server time zone); backups run by hand are not counted.
   */
  lastNight: z.object({ since: z.string(), succeeded: z.number().int(), failed: z.number().int(), missed: z.number().int(), running: z.number().int() }),
  /** Per day (server time zone), the last 30 days, oldest first. */
  daily: z.array(z.object({ day: z.string(), succeeded: z.number().int(), failed: z.number().int(), missed: z.number().int() })),
  /** Stored and logical bytes over all destinations, one point per day, oldest first. */
  storage: z.array(z.object({ day: z.string(), storedBytes: z.number(), logicalBytes: z.number() })),
  setup: SetupProgressSchema,
  /** Failed and warned tasks and policy runs of the last 24 hours. */
  problems: RecentProblemsSchema,
  coverage: CoverageSchema,
  space: z.array(DestinationSpaceSchema),
});
export type Dashboard = z.infer<typeof DashboardSchema>;
