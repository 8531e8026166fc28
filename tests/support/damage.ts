import fs from 'node:fs';
import path from 'node:path';
import { chunkRelPath, expandChunks } from '../../node-service/repository/format.js';
import { Repository } from '../../node-service/repository/index.js';

/** Flips one bit in the last byte of the first data chunk of a backup (its checksum then fails). */
export async function damageOneChunk(repoPath: string, repoBackupId: string): Promise<string> {
  const repo = await Repository.open(repoPath);
  const chunk = (await repo.loadManifest(repoBackupId)).disks.flatMap((d) => expandChunks(d)).find((c): c is string => typeof c === 'string')!;
  await repo.close();
  const file = path.join(repoPath, chunkRelPath(chunk));
  const bytes = fs.readFileSync(file);
  bytes[bytes.length - 1]! ^= 0x01;
  fs.writeFileSync(file, bytes);
  return chunk;
}
