import { describe, expect, it } from 'vitest';
import type { CommandRunner, RunResult } from '../../../node-service/platforms/kvm/command-runner.js';
import { Virsh } from '../../../node-service/platforms/kvm/virsh.adapter.js';

/**
 * A virsh that runs a batch script as the real one does: commands in order, each one's output
 * on stdout (blank when it failed, its error on the shared stderr), on after a failure.
 */
function fakeVirsh(answer: (command: string[]) => { out: string } | { err: string }): { runner: CommandRunner; scripts: string[] } {
  const scripts: string[] = [];
  const runner: CommandRunner = {
    run(_file, args): Promise<RunResult> {
      const script = args[2] ?? '';
      scripts.push(script);
      let stdout = '';
      let stderr = '';
      // Split on unescaped ';' and spaces, dropping the escapes (virsh's tokenizer).
      for (const cmd of script.split(/(?<!\\) ; /)) {
        const words = cmd.split(/(?<!\\) /).map((w) => w.replace(/\\(.)/g, '$1'));
        if (words[0] === 'echo') {
          stdout += `${words.slice(1).join(' ')}\n`;
          continue;
        }
        const a = answer(words);
        if ('out' in a) stdout += a.out;
        else {
          stdout += '\n';
          stderr += `error: ${a.err}\n`;
        }
      }
      return Promise.resolve({ stdout, stderr });
    },
  };
  return { runner, scripts };
}

describe('Virsh.domainFacts (one virsh process)', () => {
  it('splits the outputs per command and reports a failed one with its error', async () => {
    const { runner, scripts } = fakeVirsh((c) => {
      if (c[0] === 'domstate') return { out: 'running\n\n' };
      if (c[0] === 'dumpxml') return { out: c.includes('--inactive') ? '<domain>inactive</domain>\n' : '<domain>live</domain>\n' };
      if (c[0] === 'checkpoint-dumpxml' && c.includes('--size')) return { out: "<domaincheckpoint><disk name='vda' checkpoint='bitmap' size='0'/></domaincheckpoint>\n" };
      return { err: "Domain checkpoint not found: no domain checkpoint with matching name 'cp1'" };
    });
    const facts = await new Virsh(runner).domainFacts('vm 1;x', 'cp1');
    expect(scripts).toHaveLength(1);
    expect(scripts[0]).toContain('domstate vm\\ 1\\;x ;');
    expect(facts.state).toEqual({ ok: true, value: 'running' });
    expect(facts.liveXml).toEqual({ ok: true, value: '<domain>live</domain>\n' });
    expect(facts.inactiveXml).toEqual({ ok: true, value: '<domain>inactive</domain>\n' });
    expect(facts.checkpointXml?.ok).toBe(false);
    expect(facts.checkpointXml?.ok === false && facts.checkpointXml.error.message).toMatch(/checkpoint not found/);
    expect(facts.checkpointSizedXml?.ok).toBe(true);
  });

  it('asks nothing about a checkpoint when there is none, and names a missing domain as such', async () => {
    const { runner, scripts } = fakeVirsh(() => ({ err: "failed to get domain 'gone'" }));
    const facts = await new Virsh(runner).domainFacts('gone', null);
    expect(scripts[0]).not.toContain('checkpoint');
    expect(facts.checkpointXml).toBeNull();
    expect(facts.state.ok === false && facts.state.error.code).toBe('KVM_DOMAIN_NOT_FOUND');
    expect(facts.liveXml.ok).toBe(false);
  });

  it('refuses output that does not split into one part per command', async () => {
    const runner: CommandRunner = { run: () => Promise.resolve({ stdout: 'running\n', stderr: '' }) };
    await expect(new Virsh(runner).domainFacts('vm', null)).rejects.toThrow(/unexpected output of a batch/);
  });
});

describe('Virsh.checkpointParents', () => {
  it('reads each checkpoint and its parent from the table, leaving out lines of another shape', async () => {
    const table = [
      ' Name                           Creation Time               Parent',
      '-------------------------------------------------------------------------------------------',
      ' vplus-20261207T154320Z-c04430   2026-12-07 15:43:20 +0000   ',
      ' vplus-20261207T154321Z-f42a8d   2026-12-07 15:43:21 +0000   vplus-20261207T154320Z-c04430',
      ' by-hand                          2026-12-07 15:43:22 -0130   vplus-20261207T154321Z-f42a8d',
      ' odd line',
      '',
    ].join('\n');
    const runner: CommandRunner = { run: () => Promise.resolve({ stdout: table, stderr: '' }) };
    expect([...(await new Virsh(runner).checkpointParents('vm'))]).toEqual([
      ['vplus-20261207T154320Z-c04430', null],
      ['vplus-20261207T154321Z-f42a8d', 'vplus-20261207T154320Z-c04430'],
      ['by-hand', 'vplus-20261207T154321Z-f42a8d'],
    ]);
  });
});
