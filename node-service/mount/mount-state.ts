/**
 * The record of a mount session on the node: every step is written here BEFORE it is taken
 * (temp file, fsync, rename), so close(), a node restart and a crash can all undo whatever
 * was done, in reverse order, from this file alone.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

export type MountStep =
  /** The NBD server: its own process (nbd-serve-process.ts, found by workDir in its argv at cleanup), or the node process in tests. */
  | { kind: 'nbd-server'; socket: string; pid: number }
  /** An nbdfuse exposing one disk as `file`, FUSE-mounted on `mountpoint`. */
  | { kind: 'nbdfuse'; disk: string; mountpoint: string; file: string; pidFile: string; pid?: number }
  /** An offset loop device over an nbdfuse file; `device` once losetup said which. */
  | { kind: 'loop'; volume: string; file: string; offset: number; size: number; readOnly: boolean; device?: string }
  /** A filesystem mounted on `mountpoint` (kernel, or a FUSE driver process). */
  | { kind: 'mount'; volume: string; mountpoint: string; driver: string };

export interface MountState {
  version: 1;
  createdAt: string;
  steps: MountStep[];
}

export const STATE_FILE = 'state.json';

/** Reads a session's state; null when there is none (never started, or already cleaned up). */
export async function readMountState(workDir: string): Promise<MountState | null> {
  let text: string;
  try {
    text = await fs.readFile(path.join(workDir, STATE_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const state = JSON.parse(text) as MountState;
  if (state.version !== 1 || !Array.isArray(state.steps)) throw new Error(`${path.join(workDir, STATE_FILE)} is not a mount session state file`);
  return state;
}

/** Appends and updates steps, each change durable before the caller acts on it. */
export class MountStateFile {
  private readonly state: MountState;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly workDir: string,
    initial?: MountState,
  ) {
    this.state = initial ?? { version: 1, createdAt: new Date().toISOString(), steps: [] };
  }

  get steps(): readonly MountStep[] {
    return this.state.steps;
  }

  /** Records a step about to be taken; returns it so the caller can complete it (update). */
  async record<K extends MountStep['kind']>(step: Extract<MountStep, { kind: K }>): Promise<Extract<MountStep, { kind: K }>> {
    this.state.steps.push(step);
    await this.save();
    return step;
  }

  /** Saves a change made to a recorded step (a loop's device name, a process id). */
  update(): Promise<void> {
    return this.save();
  }

  /** Drops a step that has been undone. */
  async remove(step: MountStep): Promise<void> {
    const i = this.state.steps.indexOf(step);
    if (i >= 0) this.state.steps.splice(i, 1);
    await this.save();
  }

  private save(): Promise<void> {
    // Serialised: two quick changes never race each other's rename.
    this.writing = this.writing.then(() => writeAtomically(path.join(this.workDir, STATE_FILE), JSON.stringify(this.state, null, 2)));
    return this.writing;
  }
}

async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp`;
  const handle = await fs.open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, file);
}
