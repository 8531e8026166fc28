import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backup, Policy, PolicyRun } from '../../../common/api/index.js';
import { startKvmSetup, type KvmSetup } from '../../support/kvm-setup.js';
import { MiB, type LibvirtTestHost, type TestVm } from '../../support/libvirt-host.js';
import { vplus, vplusOk } from '../../support/processes.js';
import { ADMIN, createUser, waitFor } from '../../support/test-server.js';

/**
 * The built `vplus policy …` against a real server (managed MariaDB), a real
 * node agent with the real KVM and destination handlers, the real libvirtd +
 * QEMU (TCG) and a destination in a temp dir: create, list, show, update,
 * assign, run --wait (an empty policy, and one with a real VM backed up),
 * runs, retention, remove, and what a viewer may not do. Run `npm run build:ts` first.
 */
describe('vplus policy against a real server, node and libvirt', () => {
  let bed: KvmSetup;
  let host: LibvirtTestHost;
  let vm: TestVm;
  let env: Record<string, string>;
  let viewerEnv: Record<string, string>;

  /** Runs vplus to its end, whatever its exit code; stdout alone too (for --json). */
  const run = async (args: string[], as = env): Promise<{ code: number | null; output: string; stdout: string }> => {
    const p = vplus(args, as);
    let stdout = '';
    p.child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    p.child.stdin!.end();
    const code = await p.exited;
    return { code, output: p.output(), stdout };
  };

  beforeAll(async () => {
    bed = await startKvmSetup({
      label: 'cli-policy',
      prepare: async (h) => {
        const vda = await h.createDisk('vda.qcow2', 16, [{ pattern: 0x51, offset: 0, length: MiB }]);
        vm = await h.defineVm([{ target: 'vda', path: vda }]);
        await h.start(vm);
      },
      node: { name: 'kvm-node', kvmWorkDir: 'kvm-work' },
    });
    host = bed.host;
    const { t, admin } = bed;
    const dir = host.subdir('cli');
    env = { VPLUS_CONFIG: path.join(dir, 'cli.json'), VPLUS_SERVER: '', VPLUS_FINGERPRINT: '', VPLUS_TOKEN: '' };
    await vplusOk(['login', '--server', t.server.url, '--user', ADMIN.username, '--password-stdin', '--fingerprint', t.server.fingerprint], env, `${ADMIN.password}\n`);
    const viewer = await createUser(t.api, admin, 'victor', 'viewer');
    const viewerConfig = path.join(dir, 'viewer.json');
    fs.writeFileSync(viewerConfig, JSON.stringify({ server: t.server.url, fingerprint: t.server.fingerprint, token: viewer, user: 'victor' }), { mode: 0o600 });
    viewerEnv = { ...env, VPLUS_CONFIG: viewerConfig };

    // With the CLI, as a user would.
    await vplusOk(['destination', 'add', 'local', '--node', 'kvm-node', '--path', bed.destinationPath('local')], env);
    await vplusOk(['hypervisor', 'add', 'kvm1', '--node', 'kvm-node'], env);
  });

  afterAll(async () => {
    await bed?.close();
  });

  it('create takes schedules, retention and assignment rules; list and show print them', async () => {
    const created = await vplusOk(
      [
        'policy', 'create', 'nightly', '--destination', 'local',
        '--schedule', 'incremental  mon-fri 22:00', '--schedule', 'full sun 22:00',
        '--retention', 'last=3 daily=14 weekly=8 monthly=12',
        '--include', '^prod-', '--include', '^db-', '--exclude', '-test$',
        '--time-zone', 'UTC', '--priority', '60', '--fail-above', '50',
      ],
      env,
    );
    expect(created).toMatch(/^Created policy "nightly": destination local, "incremental mon-fri 22:00", "full sun 22:00", keeps last=3 daily=14 weekly=8 monthly=12, 0 VMs, next run \d{4}-\d\d-\d\d 22:00 \((incremental|full)\)\.$/m);
    expect(created).toContain('No VM matches its rules yet; VMs that do are put in it as the inventory finds them.\n');

    const list = JSON.parse(await vplusOk(['policy', 'list', '--json'], env)) as Policy[];
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({
      name: 'nightly',
      destination: 'local',
      enabled: true,
      timeZone: 'UTC',
      priority: 60,
      failRunAbovePercent: 50,
      schedules: ['incremental mon-fri 22:00', 'full sun 22:00'],
      retention: { keepLast: 3, daily: 14, weekly: 8, monthly: 12, keepLatestOfExistingVm: true },
      assignment: { include: ['^prod-', '^db-'], exclude: ['-test$'], hypervisors: [], mode: 'assign-only' },
      vms: [],
      lastRun: null,
    });
    expect(Object.keys(list[0]!)).toEqual(expect.arrayContaining(['id', 'name', 'destination', 'schedules', 'retention', 'vms', 'nextRun', 'lastRun', 'enabled']));
    expect(list[0]!.nextRun).toMatchObject({ rule: expect.stringMatching(/22:00$/) as unknown });

    const table = await vplusOk(['policy', 'list'], env);
    expect(table).toMatch(/^ID\s+NAME\s+DESTINATION\s+SCHEDULES\s+RETENTION\s+VMS\s+NEXT RUN\s+LAST RUN$/m);
    expect(table).toMatch(/^\d+\s+nightly\s+local\s+incremental mon-fri 22:00; full sun 22:00\s+last=3 daily=14 weekly=8 monthly=12\s+0\s+\S+ 22:00 \((incremental|full)\)\s+never$/m);

    const shown = await vplusOk(['policy', 'show', 'nightly'], env);
    expect(shown).toMatch(/^Schedules: +incremental mon-fri 22:00; full sun 22:00$/m);
    expect(shown).toMatch(/^Retention: +last=3 daily=14 weekly=8 monthly=12 \(the newest backup of a VM still on its host is always kept\)$/m);
    expect(shown).toMatch(/^Include: +"\^prod-" "\^db-"$/m);
    expect(shown).toMatch(/^Exclude: +"-test\$"$/m);
    expect(shown).toMatch(/^Time zone: +UTC$/m);
    expect(shown).toMatch(/^Fail run above: +50 % of its VMs failed$/m);
    expect(shown).toContain('VMs: none; add them with --include/--hypervisor rules (vplus policy update) or by hand (vplus policy assign nightly VM…)');
    const byId = JSON.parse(await vplusOk(['policy', 'show', String(list[0]!.id), '--json'], env)) as Policy;
    expect(byId).toEqual(list[0]);
  });

  it('a bad schedule is a usage error naming the part; a bad time zone is the server’s 400', async () => {
    const typo = await run(['policy', 'create', 'weekly', '--destination', 'local', '--schedule', 'incremental mon-fry 22:00']);
    expect(typo.code).toBe(2);
    expect(typo.output).toContain('error: --schedule "incremental mon-fry 22:00": could not read "mon-fry" as days;');

    const untyped = await run(['policy', 'create', 'weekly', '--destination', 'local', '--schedule', 'sun 22:00']);
    expect(untyped.code).toBe(2);
    expect(untyped.output).toContain('error: --schedule "sun 22:00": the backup type is missing; start with "full" or "incremental"');

    const zone = await run(['policy', 'create', 'weekly', '--destination', 'local', '--schedule', 'full sun 22:00', '--time-zone', 'Mars/Olympus']);
    expect(zone.code).toBe(1);
    expect(zone.output).toContain('error: "Mars/Olympus" is not a time zone; use an IANA name such as Europe/Berlin\n');

    const nowhere = await run(['policy', 'create', 'weekly', '--destination', 'tape']);
    expect(nowhere.code).toBe(1);
    expect(nowhere.output).toContain('error: there is no destination "tape"\n');
    expect((JSON.parse(await vplusOk(['policy', 'list', '--json'], env)) as Policy[]).map((p) => p.name)).toEqual(['nightly']);
  });

  it('a viewer may list but not create', async () => {
    const refused = await run(['policy', 'create', 'mine', '--destination', 'local'], viewerEnv);
    expect(refused.code).toBe(1);
    expect(refused.output).toContain('error: your role (viewer) may not do this; it needs admin or higher\n');
    expect(await vplusOk(['policy', 'list'], viewerEnv)).toMatch(/^\d+\s+nightly\s+/m);
  });

  it('assign refuses a VM that does not exist', async () => {
    const missing = await run(['policy', 'assign', 'nightly', 'no-such-vm']);
    expect(missing.code).toBe(1);
    expect(missing.output).toContain('error: there is no VM "no-such-vm"\n');
  });

  it('run --wait on a policy without VMs finishes at once and says why; runs lists it', async () => {
    expect(await vplusOk(['policy', 'create', 'empty', '--destination', 'local'], env)).toContain('It has no schedule: it runs when started with vplus policy run empty.\n');
    const out = await run(['policy', 'run', 'empty', '--wait']);
    expect(out.code, out.output).toBe(0);
    const started = /^Started run (\d+) of policy "empty" \(incremental where the chain allows\): 0 VMs\.$/m.exec(out.stdout);
    expect(started, out.output).not.toBeNull();
    expect(out.stdout).toContain(`Run ${started![1]} of policy "empty" finished: no virtual machines are in this policy.\n`);

    const runs = JSON.parse(await vplusOk(['policy', 'runs', 'empty', '--json'], env)) as PolicyRun[];
    expect(runs).toEqual([expect.objectContaining({ id: Number(started![1]), policy: 'empty', trigger: 'manual', state: 'finished', vms: 0, message: 'no virtual machines are in this policy' })]);
    expect(await vplusOk(['policy', 'runs', 'empty'], env)).toMatch(new RegExp(`^${started![1]}\\s+manual\\s+-\\s+-\\s+\\S+ \\S+\\s+\\S+ \\S+\\s+finished\\s+0/0 ok\\s+no virtual machines are in this policy$`, 'm'));
    expect(await vplusOk(['policy', 'show', 'empty'], env)).toMatch(/^Last run: +finished \S+ \S+: no virtual machines are in this policy$/m);
  });

  it('update changes only what is given; its rules put the VM in; unassign warns that the rules match it', async () => {
    // This VM by its exact name: other tests may have VMs of their own on the same libvirt.
    const updated = await vplusOk(['policy', 'update', 'nightly', '--disable', '--include', `^${vm.name}$`, '--schedule', 'full sun 03:00'], env);
    expect(updated).toMatch(/^Updated policy "nightly": destination local, "full sun 03:00", keeps last=3 daily=14 weekly=8 monthly=12, 1 VM, disabled\.$/m);
    const policy = JSON.parse(await vplusOk(['policy', 'show', 'nightly', '--json'], env)) as Policy;
    expect(policy).toMatchObject({ enabled: false, priority: 60, assignment: { include: [`^${vm.name}$`], exclude: ['-test$'], mode: 'assign-only' }, vms: [{ name: vm.name, source: 'auto' }] });
    expect(await vplusOk(['policy', 'show', 'nightly'], env)).toMatch(new RegExp(`^ {2}\\d+\\s+${vm.name}\\s+by its rules$`, 'm'));
    expect(await vplusOk(['vm', 'list'], env)).toMatch(new RegExp(`^\\d+\\s+${vm.name}\\s+\\S+\\s+running\\s+kvm1\\s+nightly\\s+never$`, 'm'));

    const out = await run(['policy', 'unassign', 'nightly', vm.name]);
    expect(out.code, out.output).toBe(0);
    expect(out.stdout).toBe(`Took VM ${vm.name} out of policy "nightly"; it has 0 VMs now.\n`);
    expect(out.output).toContain(
      `note: VM ${vm.name} matches the policy's rules (name matches ^${vm.name}$), so the next inventory sync puts it back; ` +
        `to keep it out, run vplus policy update nightly --exclude '-test$' --exclude '^${vm.name}$'\n`,
    );

    expect(await vplusOk(['policy', 'assign', 'nightly', vm.uuid], env)).toBe(`Put VM ${vm.uuid} in policy "nightly"; it has 1 VM now.\n`);
    expect(await vplusOk(['policy', 'show', 'nightly'], env)).toMatch(new RegExp(`^ {2}\\d+\\s+${vm.name}\\s+by hand$`, 'm'));
  });

  it('run --wait follows the backup of its VM (EXPORT, then STORE) and exits 0 when the run finished', async () => {
    const out = await run(['policy', 'run', 'nightly', '--wait']);
    expect(out.code, out.output).toBe(0);
    const started = /^Started run (\d+) of policy "nightly" \(incremental where the chain allows\): 1 VM\.$/m.exec(out.stdout);
    expect(started, out.output).not.toBeNull();
    const id = started![1]!;
    expect(out.output).toContain(`Run ${id} of policy "nightly" is running: 0 of 1 VM backed up, 1 to go.\n`);
    const exported = new RegExp(`Task (\\d+) \\(EXPORT vm:${vm.name}\\) finished`).exec(out.output);
    const stored = new RegExp(`Task (\\d+) \\(STORE vm:${vm.name}\\) finished`).exec(out.output);
    expect(exported, out.output).not.toBeNull();
    expect(stored, out.output).not.toBeNull();
    expect(stored!.index).toBeGreaterThan(exported!.index);
    expect(out.output).toMatch(new RegExp(`Stored a full backup of ${vm.name}: read \\S+ \\S+ of 16\\.0 MiB of disks;`));
    expect(out.stdout).toMatch(new RegExp(`^Run ${id} of policy "nightly" finished( in \\S+( \\S+)?)?: 1 of 1 VM backed up\\.$`, 'm'));

    const backups = JSON.parse(await vplusOk(['backup', 'list', vm.name, '--json'], env)) as Backup[];
    expect(backups.map((b) => b.type)).toEqual(['full']);
  });

  it('run --full --wait --json prints only the run as it ended', async () => {
    const out = await run(['policy', 'run', 'nightly', '--full', '--wait', '--json']);
    expect(out.code, out.output).toBe(0);
    const ended = JSON.parse(out.stdout) as PolicyRun;
    expect(ended).toMatchObject({ policy: 'nightly', trigger: 'manual', backupType: 'full', state: 'finished', vms: 1, succeeded: 1, failed: 0 });
    expect(ended.finishedAt).not.toBeNull();
    expect(out.output).toContain(`Started run ${ended.id} of policy "nightly" (full backups): 1 VM.\n`);

    const runs = JSON.parse(await vplusOk(['policy', 'runs', 'nightly', '--json'], env)) as PolicyRun[];
    expect(runs.find((r) => r.id === ended.id)).toEqual(ended);
    expect(runs.filter((r) => r.trigger === 'manual').map((r) => [r.backupType, r.state])).toEqual([
      ['full', 'finished'],
      [null, 'finished'],
    ]);
    expect(await vplusOk(['policy', 'runs'], env)).toMatch(new RegExp(`^${ended.id}\\s+nightly\\s+manual\\s+full\\s+-\\s+\\S+ \\S+\\s+\\S+ \\S+\\s+finished\\s+1/1 ok$`, 'm'));
  });

  it('run without --wait says how to follow the run; policy wait RUN follows it, and afterwards reports how it ended', async () => {
    const started = await run(['policy', 'run', 'nightly']);
    expect(started.code, started.output).toBe(0);
    const id = /^Started run (\d+) of policy "nightly" \(incremental where the chain allows\): 1 VM\.\nFollow it with: vplus policy wait nightly \1\n$/.exec(started.stdout)?.[1];
    expect(id, started.output).toBeDefined();
    const waited = await run(['policy', 'wait', 'nightly', id!]);
    expect(waited.code, waited.output).toBe(0);
    expect(waited.stdout).toMatch(new RegExp(`^Run ${id} of policy "nightly" finished( in \\S+( \\S+)?)?: 1 of 1 VM backed up\\.$`, 'm'));
    const again = await run(['policy', 'wait', 'nightly', id!, '--json']);
    expect(again.code, again.output).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ id: Number(id), state: 'finished', succeeded: 1 });
    const unknown = await run(['policy', 'wait', 'nightly', '9999']);
    expect(unknown.code).toBe(1);
    expect(unknown.output).toContain('error: policy "nightly" has no run 9999; see its runs with vplus policy runs nightly\n');
  });

  it('run --wait exits 1 when a VM failed, with a warning naming its task and the reason', async () => {
    const disk = await host.createDisk('broken.qcow2', 8);
    const broken = await host.defineVm([{ target: 'vda', path: disk }]);
    await vplusOk(['hypervisor', 'sync', 'kvm1', '--wait'], env);
    expect(await vplusOk(['policy', 'assign', 'nightly', broken.name], env)).toBe(`Put VM ${broken.name} in policy "nightly"; it has 2 VMs now.\n`);
    // The (shut-off) VM's disk goes away behind the inventory's back: its backup cannot read it.
    fs.rmSync(disk);

    const out = await run(['policy', 'run', 'nightly', '--wait']);
    expect(out.code, out.output).toBe(1);
    const id = /^Started run (\d+) of policy "nightly" \(incremental where the chain allows\): 2 VMs\.$/m.exec(out.stdout)?.[1];
    expect(id, out.output).toBeDefined();
    expect(out.output).toMatch(new RegExp(`Task (\\d+) \\(STORE vm:${vm.name}\\) finished`));
    expect(out.output).toMatch(new RegExp(`\nwarning: task \\d+ \\(EXPORT vm:${broken.name}\\) failed: .+\n`));
    expect(out.output).toMatch(new RegExp(`\nerror: run ${id} of policy "nightly" finished with warnings( in \\S+( \\S+)?)?: 1 of 2 VMs backed up, 1 failed\n$`));
    const runs = JSON.parse(await vplusOk(['policy', 'runs', 'nightly', '--json'], env)) as PolicyRun[];
    expect(runs.find((r) => r.id === Number(id))).toMatchObject({ state: 'finished_with_warnings', vms: 2, succeeded: 1, failed: 1 });
    expect(await vplusOk(['policy', 'unassign', 'nightly', broken.name], env)).toBe(`Took VM ${broken.name} out of policy "nightly"; it has 1 VM now.\n`);
  });

  it('retention --wait prunes by the policy’s rules, then collects garbage', async () => {
    // The retention each run with a backup starts of itself must be over first: one prune at a time.
    await waitFor('the retention after the runs to end', async () => {
      const runs = JSON.parse(await vplusOk(['policy', 'runs', 'nightly', '--json'], env)) as PolicyRun[];
      return runs.every((r) => r.state !== 'running') || undefined;
    });
    const out = await run(['policy', 'retention', 'nightly', '--wait']);
    expect(out.code, out.output).toBe(0);
    const started = /^Applying the retention of policy "nightly" \(last=3 daily=14 weekly=8 monthly=12\) on destination local: run (\d+)\.$/m.exec(out.stdout);
    expect(started, out.output).not.toBeNull();
    expect(out.output).toMatch(/Task \d+ \(PRUNE policy:nightly\) finished/);
    expect(out.output).toMatch(/Task \d+ \(GC policy:nightly\) finished/);
    expect(out.stdout).toMatch(new RegExp(`^Retention run ${started![1]} of policy "nightly" finished( in \\S+( \\S+)?)?\\.$`, 'm'));
  });

  it('remove forgets a policy; its backups stay', async () => {
    expect(await vplusOk(['policy', 'remove', 'empty'], env)).toBe('Removed policy "empty"; its backups stay on destination local.\n');
    const gone = await run(['policy', 'show', 'empty']);
    expect(gone.code).toBe(1);
    expect(gone.output).toContain('error: there is no policy "empty"\n');
    expect((JSON.parse(await vplusOk(['policy', 'list', '--json'], env)) as Policy[]).map((p) => p.name)).toEqual(['nightly']);
  });

  it('create --kind m365 makes a Microsoft 365 policy (no tenant yet: no member), refuses --hypervisor (exit 2), and its run says it has nobody', async () => {
    const refused = await run(['policy', 'create', 'm365-daily', '--kind', 'm365', '--destination', 'local', '--include', '^alice@', '--hypervisor', 'kvm1']);
    expect(refused.code, refused.output).toBe(2);
    expect(refused.output).toContain('--hypervisor is for VM policies');
    const created = await vplusOk(['policy', 'create', 'm365-daily', '--kind', 'm365', '--destination', 'local', '--schedule', 'incremental daily 21:00', '--include', '^alice@', '--include', '^finance$', '--retention', 'last=1', '--time-zone', 'UTC'], env);
    expect(created).toMatch(/^Created policy "m365-daily": destination local, "incremental daily 21:00", keeps last=1, 0 users and sites, next run /m);
    expect(created).toContain('No Microsoft 365 user or site matches its rules yet; those that do when it runs are backed up.\n');
    const shown = JSON.parse(await vplusOk(['policy', 'show', 'm365-daily', '--json'], env)) as Policy;
    expect(shown).toMatchObject({ kind: 'm365', assignment: { include: ['^alice@', '^finance$'], hypervisors: [] }, m365Members: [] });
    const ran = await run(['policy', 'run', 'm365-daily', '--wait']);
    expect(ran.code, ran.output).toBe(0);
    expect(ran.stdout).toMatch(/no Microsoft 365 users or sites are in this policy/);
    await vplusOk(['policy', 'remove', 'm365-daily'], env);
  });
});
