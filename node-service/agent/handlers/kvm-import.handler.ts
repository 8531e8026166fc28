import { randomUUID } from 'node:crypto';
import { access, chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { z } from 'zod';
import { ImportParamsSchema, RestoreResultSchema, type ImportResultSchema } from '../../../common/kvm-tasks.js';
import { importDomainXml, removeEmptyDirectories, Virsh } from '../../platforms/kvm/index.js';
import { TaskError, type TaskHandler, type TaskRunContext, type TaskRunResult } from '../task-handler.js';
import { VM_NAME } from './kvm-restore.handler.js';
import { kvmStep, parseOwn, type KvmHandlerDeps } from './kvm-task.js';

type ImportResult = z.infer<typeof ImportResultSchema>;

const ImportTaskParamsSchema = ImportParamsSchema.extend({ previousResult: RestoreResultSchema });

/**
 * IMPORT: defines the VM a RESTORE wrote on this host as a new domain (new name, UUID, MACs;
 * disks pointing at the restored files), optionally starting it. An existing domain of that
 * name is replaced only with `overwrite`, and then only its definition is removed: `virsh
 * undefine` never deletes storage, so its disks stay where they are. A failed import removes
 * what it defined and what the RESTORE wrote, unless `keepOnFailure`.
 */
export function kvmImportHandler(deps: KvmHandlerDeps): TaskHandler {
  return {
    type: 'IMPORT',
    async run(ctx: TaskRunContext) {
      const params = parseOwn(ctx, ImportTaskParamsSchema);
      const restored = params.previousResult;
      const virsh = new Virsh(deps.runner!, params.uri);
      const defined: { uuid: string | null } = { uuid: null };
      try {
        return await importRestored(ctx, deps, params, virsh, defined);
      } catch (err) {
        if (!params.keepOnFailure) await removeRestored(ctx, virsh, restored, defined.uuid);
        else ctx.log('warn', `kept the restored files in ${restored.directory} as asked; remove them when no longer needed`);
        throw err;
      }
    },
  };
}

type ImportTaskParams = z.output<typeof ImportTaskParamsSchema>;

async function importRestored(ctx: TaskRunContext, deps: KvmHandlerDeps, params: ImportTaskParams, virsh: Virsh, defined: { uuid: string | null }): Promise<TaskRunResult> {
  const restored = params.previousResult;
  const name = params.name.trim();
  if (!VM_NAME.test(name)) {
    throw new TaskError(`"${params.name}" cannot be a VM name; use letters, digits, '.', '_', '+' and '-' (at most 64)`, 'KVM_IMPORT_NAME');
  }
  if (!restored.domainXmlPath) {
    throw new TaskError('the restored backup has no domain XML, so there is nothing to define; restore a VM backup, not a file backup', 'KVM_IMPORT_NO_XML');
  }
  for (const f of restored.files) {
    await access(f.path).catch(() => {
      throw new TaskError(`restored disk ${f.path} is missing on node ${deps.nodeName}; restore the backup again`, 'KVM_IMPORT_MISSING_DISK');
    });
  }
  // A restore makes its directories private (0700), but QEMU runs as another user: it must
  // be able to pass through the disks' directory. libvirt hands it the files themselves
  // (dynamic ownership), so search permission (0711) is all it needs; nothing is listable.
  for (const dir of new Set(restored.files.map((f) => path.dirname(f.path)))) {
    const { mode } = await stat(dir);
    if ((mode & 0o011) !== 0o011) await chmod(dir, (mode & 0o7777) | 0o011);
  }
  const original = await readFile(restored.domainXmlPath, 'utf8').catch(() => {
    throw new TaskError(`restored domain XML ${restored.domainXmlPath ?? ''} is missing on node ${deps.nodeName}; restore the backup again`, 'KVM_IMPORT_NO_XML');
  });
  return kvmStep(ctx, deps, async () => {
    if (await virsh.exists(name)) {
      if (!params.overwrite) {
        throw new TaskError(`a virtual machine named ${name} already exists on ${params.uri}; choose another name or allow overwriting it`, 'KVM_IMPORT_EXISTS');
      }
      if ((await virsh.state(name)) !== 'shut off') await virsh.destroy(name);
      await virsh.undefine(name);
      ctx.log('warn', `removed the definition of the existing VM ${name} (its disk files were left in place)`);
    }
    ctx.signal.throwIfAborted();
    const uuid = randomUUID();
    const { xml, dropped, macs } = importDomainXml(original, {
      name,
      uuid,
      disks: restored.files.map((f) => ({ target: f.target, path: f.path, format: f.format })),
    });
    const warnings = dropped.length > 0 ? [`disk ${dropped.join(', ')} was not restored and is left out of ${name}`] : [];
    const tmp = await mkdtemp(path.join(ctx.stagingDir, '.kvm-import-'));
    try {
      const file = path.join(tmp, 'domain.xml');
      await writeFile(file, xml, { mode: 0o600 });
      await virsh.define(file);
      defined.uuid = uuid;
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    ctx.log('info', `defined ${name} (${uuid}) with disks ${restored.files.map((f) => f.path).join(', ')}${macs.length ? ` and new MAC ${macs.join(', ')}` : ''}`);
    let started = false;
    if (params.start) {
      ctx.signal.throwIfAborted();
      await virsh.start(name);
      started = (await virsh.state(name)) === 'running';
      ctx.log('info', `started ${name}`);
    }
    for (const w of warnings) ctx.log('warn', w);
    const result: ImportResult = { name, uuid, started };
    return { warnings, result };
  });
}

/**
 * A failed (or cancelled) import leaves nothing behind: the domain it defined (by its new UUID,
 * never another VM of that name), the restored disks and XML, and the directories the restore
 * made, when empty. Best effort: what cannot be removed is named in the log.
 */
async function removeRestored(ctx: TaskRunContext, virsh: Virsh, restored: ImportTaskParams['previousResult'], uuid: string | null): Promise<void> {
  const left: string[] = [];
  if (uuid) {
    try {
      if ((await virsh.state(uuid)) !== 'shut off') await virsh.destroy(uuid);
      await virsh.undefine(uuid);
    } catch (err) {
      left.push(`the new VM ${uuid} (${err instanceof Error ? err.message : String(err)})`);
    }
  }
  const files = [...restored.files.map((f) => f.path), ...(restored.domainXmlPath ? [restored.domainXmlPath] : [])];
  for (const f of files) {
    await rm(f, { force: true }).catch(() => left.push(f));
  }
  await removeEmptyDirectories(restored.createdDirectories ?? []);
  if (left.length > 0) ctx.log('warn', `the import failed; could not remove ${left.join(', ')}`);
  else ctx.log('info', `the import failed; removed what the restore wrote (${files.join(', ')})`);
}
