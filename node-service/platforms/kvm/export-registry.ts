/**
 * The exports open on this node, by id, between an EXPORT task and the STORE task the server
 * pins to the same node. In memory on purpose: an export is a live backup job or qemu-nbd
 * process, which does not survive the node process either (see stale-exports.ts for the
 * restart side).
 */
import type { KvmExport } from './kvm-export.js';

export type RegistryLog = (level: 'info' | 'warn', message: string) => void;

export class KvmExportRegistry {
  private readonly open = new Map<string, { exp: KvmExport; timer: NodeJS.Timeout; taskId: number | null }>();

  /**
   * @param ttlMs an export no STORE claimed in this time is ended (a backup job blocks the
   *   VM's next backup; qemu-nbd keeps a shut-off VM from starting).
   */
  constructor(
    private readonly ttlMs = 12 * 3_600_000,
    private readonly log: RegistryLog = () => undefined,
  ) {}

  /** @param taskId the EXPORT task that opened it (`endForTask`). */
  add(exp: KvmExport, taskId: number | null = null): void {
    const timer = setTimeout(() => {
      if (!this.open.delete(exp.id)) return;
      this.log('warn', `ended the export of ${exp.vm.name} (${exp.id}): no STORE task claimed it within ${Math.round(this.ttlMs / 60_000)} min`);
      void exp.transport.end(false).then((problems) => problems.forEach((p) => this.log('warn', p)));
    }, this.ttlMs);
    timer.unref();
    this.open.set(exp.id, { exp, timer, taskId });
  }

  /** Hands the export to its STORE task (once). */
  take(id: string): KvmExport | undefined {
    const entry = this.open.get(id);
    if (!entry) return undefined;
    clearTimeout(entry.timer);
    this.open.delete(id);
    return entry.exp;
  }

  /** Ends one export as failed (its STORE will never come); false when it is not open. */
  async end(id: string): Promise<boolean> {
    const exp = this.take(id);
    if (!exp) return false;
    for (const p of await exp.transport.end(false)) this.log('warn', p);
    return true;
  }

  /**
   * Ends earlier exports of a VM whose STORE never came (cancelled while queued, server
   * restarted): a new backup of that VM supersedes them, and libvirt allows one job per VM.
   */
  async endForVm(uuid: string): Promise<string[]> {
    const ended: string[] = [];
    for (const { exp } of [...this.open.values()]) {
      if (exp.vm.uuid !== uuid) continue;
      this.take(exp.id);
      for (const p of await exp.transport.end(false)) this.log('warn', p);
      ended.push(exp.id);
    }
    return ended;
  }

  /**
   * Ends the exports an EXPORT task opened, as failed: the task was cancelled after it had
   * finished here (the cancel crossed its result on the way), so no STORE will read them.
   */
  async endForTask(taskId: number): Promise<string[]> {
    const ended: string[] = [];
    for (const [id, entry] of [...this.open.entries()]) if (entry.taskId === taskId && (await this.end(id))) ended.push(id);
    return ended;
  }

  /** Node shutting down: end everything, as failed. */
  async endAll(): Promise<void> {
    for (const id of [...this.open.keys()]) {
      const exp = this.take(id);
      if (exp) for (const p of await exp.transport.end(false)) this.log('warn', p);
    }
  }

  get size(): number {
    return this.open.size;
  }
}
