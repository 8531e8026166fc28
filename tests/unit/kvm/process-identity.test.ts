import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { currentProcess, identifyProcess, isAlive, parseStartTime } from '../../../node-service/repository/process-identity.js';

/** How a restarted node tells its dead predecessor's exports from a live process's: pid + start time + boot. */
describe('process identity', () => {
  it('reads field 22 of /proc/<pid>/stat, even when the command name holds spaces and parentheses', () => {
    const fields = (comm: string): string => `4242 (${comm}) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 12345 678 18446744073709551615`;
    expect(parseStartTime(fields('node'))).toBe('987654');
    expect(parseStartTime(fields('a) b (c'))).toBe('987654');
    expect(parseStartTime('garbage')).toBeNull();
  });

  it('this process is alive; a recycled pid (same pid, another start time) or another boot is not the owner', () => {
    const me = currentProcess();
    expect(me.pid).toBe(process.pid);
    expect(isAlive(me)).toBe(true);
    expect(isAlive({ ...me, startTime: String(BigInt(me.startTime) + 1n) })).toBe(false);
    expect(isAlive({ ...me, bootId: 'another-boot' })).toBe(false);
  });

  it('a process that exited is gone', async () => {
    const child = spawn('sleep', ['600'], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const id = identifyProcess(child.pid!)!;
    expect(isAlive(id)).toBe(true);
    child.kill('SIGKILL');
    await exited;
    expect(isAlive(id)).toBe(false);
    expect(identifyProcess(-1)).toBeNull();
  });
});
