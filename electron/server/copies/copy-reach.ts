import type { DestinationRow } from '../destinations/destinations.repository.js';

/** An S3 destination: any node that reaches the store can open it. */
export function isObjectStore(row: Pick<DestinationRow, 'kind'>): boolean {
  return row.kind === 's3';
}

/**
 * Why a COPY from `source` to `target` cannot run, or null when it can. A COPY runs on the
 * source's node (common/copy-tasks.ts), which opens the target there: an S3 destination
 * (reached over the network) or a directory on that same node.
 */
export function copyUnreachable(source: DestinationRow, target: DestinationRow): string | null {
  if (isObjectStore(target) || target.node_id === source.node_id) return null;
  return `destination "${target.name}" is a directory on node "${target.node_name}", but the copy runs on node "${source.node_name}" (where "${source.name}" is): copy to an S3 destination, or to a directory destination on node "${source.node_name}"`;
}
