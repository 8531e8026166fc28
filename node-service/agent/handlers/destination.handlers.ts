import type { TaskHandler } from '../task-handler.js';
import { backupDeleteHandler } from './backup-delete.handler.js';
import { copyHandler } from './copy.handler.js';
import { destinationCheckHandler } from './destination-check.handler.js';
import type { DestinationHandlerDeps } from './destination-task.js';
import { gcHandler } from './gc.handler.js';
import { pruneHandler } from './prune.handler.js';
import { reimportHandler } from './reimport.handler.js';
import { verifyHandler } from './verify.handler.js';

export type { DestinationHandlerDeps } from './destination-task.js';

/** The backup destination tasks this node runs for the server: check, verify, prune, GC, re-import, delete one backup, copy one backup to another destination. */
export function destinationHandlers(deps: DestinationHandlerDeps): TaskHandler[] {
  return [destinationCheckHandler(deps), verifyHandler(deps), pruneHandler(deps), gcHandler(deps), reimportHandler(deps), backupDeleteHandler(deps), copyHandler(deps)];
}
