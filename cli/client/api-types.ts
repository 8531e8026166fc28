/** What the CLI's API client takes and gives: its options and request shapes. */
import type { z } from 'zod';
import type { Backup, CreatePolicySchema, DestinationUsagePointSchema, RunBackupResponseSchema, UpdatePolicySchema } from '../../common/api/index.js';

export interface ApiClientOptions {
  /** Origin, e.g. https://backup.example:8181 */
  server: string;
  /** The pinned SHA-256 of the server certificate (any accepted spelling). */
  fingerprint: string;
  token?: string | undefined;
  timeoutMs?: number;
}

export interface RequestOptions<T> {
  body?: unknown;
  schema?: z.ZodType<T>;
  /**
   * What a 401 means: normally that the session is missing or expired; for
   * login it means wrong credentials, and the server's message says so.
   */
  unauthorized?: 'session' | 'server-message';
  /** How long the server may take to answer this request (default: the client's timeout). */
  timeoutMs?: number;
}

export type DestinationUsagePoint = z.infer<typeof DestinationUsagePointSchema>;

export interface BackupQuery {
  destination?: string;
  vm?: string;
  status?: Backup['status'];
  limit?: number;
  /** The nextCursor of the page before. */
  cursor?: string;
}

export interface CreateHypervisorRequest {
  name: string;
  node: string;
  uri?: string;
}

export interface RunBackupRequest {
  vm: string;
  destination: string;
  full: boolean;
}

/** POST /api/policies as the CLI sends it (the server fills in the defaults). */
export type CreatePolicyRequest = z.input<typeof CreatePolicySchema>;
export type UpdatePolicyRequest = z.input<typeof UpdatePolicySchema>;

/** What starting a backup or a restore answers: its workflow and its tasks, in the order they run. */
export type StartedWorkflow = z.infer<typeof RunBackupResponseSchema>;

/** GET /api/mounts/:id/files as the CLI pages through a folder. */
export interface MountFilesQuery {
  path: string;
  offset?: number;
  limit?: number;
}

/** An answer whose body is read as a stream (a download). */
export interface ApiStream {
  /** Consume it, or destroy it to stop. */
  body: NodeJS.ReadableStream & { destroy(error?: Error): void };
  /** Content-Length when the server sent one (not for a zip built as it streams). */
  size: number | null;
  contentType: string | null;
}
