import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Destination, Hypervisor, TaskDetails, Vm } from '../../../common/api/index.js';
import {
  VM_UUID,
  removeTempDirs,
  runVplus,
  sampleBackup,
  sampleDestination,
  sampleHypervisor,
  sampleLog,
  sampleTask,
  sampleVm,
  startFakeApi,
  tempDir,
  type FakeApiServer,
} from './helpers.js';

afterAll(removeTempDirs);

const TOKEN = 'good-token';
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const WEB_UUID = '0a0b0c0d-1111-2222-3333-444455556666';
const REPO_BACKUP_ID = '2025-01-31T120000Z-cd34';
const CHAIN_WARNING = 'took a full backup because the checkpoint chain was broken: checkpoint vplus-3 is missing from prod-db';

/**
 * A fake server with the hypervisor, VM, backup and restore routes. Each
 * task read answers with the next of that task's states (the last repeats);
 * there is no events WebSocket, so the follower polls, as behind a proxy.
 */
describe('hypervisor, vm, backup and restore commands against the API', () => {
  let api: FakeApiServer;
  let env: Record<string, string>;
  let tasks: Map<number, TaskDetails[]>;
  let vm: Vm;
  let destinations: Destination[];
  let nextCreate: { status: number; body?: unknown };
  const requests = (): FakeApiServer['requests'] => api.requests.filter((r) => r.method !== 'UPGRADE');
  const last = (method: string): { url: string; body: Record<string, unknown> } => {
    const r = requests().filter((q) => q.method === method).at(-1)!;
    return { url: r.url, body: JSON.parse(r.body || '{}') as Record<string, unknown> };
  };
  const urls = (method: string): string[] => requests().filter((r) => r.method === method).map((r) => r.url);
  const taskReads = (): number[] => urls('GET').flatMap((u) => /^\/api\/tasks\/(\d+)$/.exec(u)?.slice(1).map(Number) ?? []);

  beforeEach(async () => {
    tasks = new Map();
    vm = sampleVm();
    destinations = [sampleDestination()];
    nextCreate = { status: 201, body: sampleHypervisor() };
    api = await startFakeApi(({ method, url, authorization, body }) => {
      if (authorization !== `Bearer ${TOKEN}`) return { status: 401, body: { error: 'UNAUTHENTICATED', message: 'log in first' } };
      if (method === 'GET' && url === '/api/hypervisors') {
        return { status: 200, body: [sampleHypervisor(), sampleHypervisor({ id: 3, name: 'kvm2', status: 'error', statusMessage: 'cannot connect to qemu:///system: permission denied', vms: 0 })] };
      }
      if (method === 'POST' && url === '/api/hypervisors') return nextCreate;
      if (method === 'DELETE' && url === '/api/hypervisors/kvm1') return { status: 204 };
      if (method === 'POST' && url === '/api/hypervisors/kvm1/sync') return { status: 202, body: sampleTask({ id: 41, type: 'INVENTORY_SYNC', subject: 'hypervisor:kvm1' }) };
      if (url.startsWith('/api/hypervisors/')) return { status: 404, body: { error: 'NOT_FOUND', message: 'there is no hypervisor "nope"' } };
      if (method === 'GET' && (url === '/api/vms' || url === '/api/vms?hypervisor=kvm1')) {
        return { status: 200, body: [vm, sampleVm({ id: 6, name: 'web', uuid: WEB_UUID, state: 'shut off', policy: 'nightly', lastBackupAt: null, lastBackupType: null, backups: 0 })] };
      }
      if (method === 'GET' && url === '/api/vms?hypervisor=empty') return { status: 200, body: [] };
      if (method === 'GET' && ['/api/vms/prod-db', '/api/vms/5', `/api/vms/${VM_UUID}`].includes(url)) return { status: 200, body: vm };
      if (method === 'PATCH' && url === '/api/vms/5') {
        const excluded = (JSON.parse(body) as { excludedDisks: string[] }).excludedDisks;
        vm = { ...vm, disks: vm.disks.map((d) => ({ ...d, excluded: excluded.includes(d.target) })) };
        return { status: 200, body: vm };
      }
      if (url.startsWith('/api/vms/')) return { status: 404, body: { error: 'NOT_FOUND', message: `there is no VM "${decodeURIComponent(url.slice('/api/vms/'.length))}"` } };
      if (method === 'GET' && url === '/api/destinations') return { status: 200, body: destinations };
      if (method === 'POST' && url === '/api/backups/run') {
        const { vm: ref } = JSON.parse(body) as { vm: string };
        if (ref !== 'prod-db') return { status: 404, body: { error: 'NOT_FOUND', message: `there is no VM "${ref}"` } };
        return { status: 202, body: { workflowId: 9, taskIds: [31, 32] } };
      }
      if (method === 'GET' && url.startsWith('/api/backups')) {
        return {
          status: 200,
          body: {
            backups: [
              sampleBackup({ id: 14, vm: VM_UUID, repoBackupId: REPO_BACKUP_ID, createdAt: '2025-01-31T12:00:00.000Z' }),
              sampleBackup({ id: 12, vm: VM_UUID, type: 'incremental', storedBytes: 200 * MiB }),
              sampleBackup({ id: 9, vm: 'gone-vm-uuid' }),
            ],
            nextCursor: null,
          },
        };
      }
      if (method === 'POST' && url === '/api/restores') {
        const mode = (JSON.parse(body) as { mode: string }).mode;
        return { status: 202, body: mode === 'files' ? { workflowId: 10, taskIds: [51] } : { workflowId: 11, taskIds: [51, 52] } };
      }
      const taskRead = /^\/api\/tasks\/(\d+)$/.exec(url);
      if (method === 'GET' && taskRead) {
        const states = tasks.get(Number(taskRead[1]));
        if (!states) return { status: 404, body: { error: 'NOT_FOUND', message: `there is no task ${taskRead[1]}` } };
        return { status: 200, body: states.length > 1 ? states.shift() : states[0] };
      }
      return { status: 404 };
    });
    const configFile = path.join(tempDir('kvm'), 'cli.json');
    fs.writeFileSync(configFile, JSON.stringify({ server: api.url, fingerprint: api.fingerprint, token: TOKEN, user: 'admin' }), { mode: 0o600 });
    env = { VPLUS_CONFIG: configFile };
  });
  afterEach(async () => {
    await api.close();
  });

  /** A task as a read shows it, ended (FINISHED unless overridden) after 2 s. */
  const task = (id: number, type: TaskDetails['type'], subject: string, overrides: Partial<TaskDetails> = {}): TaskDetails => ({
    ...sampleTask({ id, type, subject, workflowId: 9 }),
    state: 'FINISHED',
    attempt: 1,
    startedAt: '2025-01-31T12:00:00.000Z',
    finishedAt: '2025-01-31T12:00:02.000Z',
    log: [],
    ...overrides,
  });
  const storeParams = { destinationId: 3, vm: { uuid: VM_UUID, name: 'prod-db' }, vmId: 5 };
  const storeResult = {
    backupId: REPO_BACKUP_ID,
    type: 'full',
    checkpoint: 'vplus-4',
    bytesRead: 12 * GiB,
    logicalBytes: 140 * GiB,
    disks: [
      { target: 'vda', size: 40 * GiB, changedBytes: null, bytesRead: 10 * GiB },
      { target: 'vdb', size: 100 * GiB, changedBytes: null, bytesRead: 2 * GiB },
    ],
  };

  describe('hypervisor', () => {
    it('add sends the default URI and says how many VMs the node found', async () => {
      const run = await runVplus(['hypervisor', 'add', 'kvm1', '--node', 'n1'], { env });
      expect(run.code).toBe(0);
      expect(last('POST')).toEqual({ url: '/api/hypervisors', body: { name: 'kvm1', node: 'n1', uri: 'qemu:///system' } });
      expect(run.stderr).toBe('Listing the VMs of qemu:///system on node n1…\n');
      expect(run.stdout).toBe('Added hypervisor "kvm1" on node n1 (qemu:///system) with 2 VMs.\nSee them with: vplus vm list --hypervisor kvm1\n');
      await runVplus(['hypervisor', 'add', 'kvm1', '--node', 'n1', '--uri', 'qemu+ssh://root@host/system'], { env });
      expect(last('POST').body.uri).toBe('qemu+ssh://root@host/system');
    });

    it("a host the node cannot list exits 1 with the node's reason", async () => {
      nextCreate = { status: 400, body: { error: 'HYPERVISOR_UNREACHABLE', message: 'cannot connect to qemu:///system on node n1: libvirtd is not running', field: 'uri' } };
      const run = await runVplus(['hypervisor', 'add', 'kvm1', '--node', 'n1'], { env });
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr.trimEnd().split('\n').at(-1)).toBe('error: cannot connect to qemu:///system on node n1: libvirtd is not running');
    });

    it("prints virsh's own words, which the UI folds behind Details, on a line below the sentence", async () => {
      const detail = "virsh -c qemu+tcp://h/system version failed: failed to connect to the hypervisor; Connection refused.";
      nextCreate = { status: 400, body: { error: 'HYPERVISOR_UNREACHABLE', message: 'node "n1" could not connect to libvirt at qemu+tcp://h/system', field: 'uri', detail } };
      const run = await runVplus(['hypervisor', 'add', 'kvm1', '--node', 'n1', '--uri', 'qemu+tcp://h/system'], { env });
      expect(run.code).toBe(1);
      expect(run.stderr.trimEnd().split('\n').slice(-2)).toEqual(['error: node "n1" could not connect to libvirt at qemu+tcp://h/system', `details: ${detail}`]);
    });

    it('list prints a table with the reason of an error below it; --json the hypervisors', async () => {
      const run = await runVplus(['hypervisor', 'list'], { env });
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^ID\s+NAME\s+NODE\s+URI\s+STATUS\s+VMS\s+LAST SYNC$/m);
      expect(run.stdout).toMatch(/^2\s+kvm1\s+n1\s+qemu:\/\/\/system\s+ok\s+2\s+\S+ \S+$/m);
      expect(run.stdout).toMatch(/^kvm2: cannot connect to qemu:\/\/\/system: permission denied$/m);
      const json = JSON.parse((await runVplus(['hypervisor', 'list', '--json'], { env })).stdout) as Hypervisor[];
      expect(json.map((h) => [h.id, h.name, h.node, h.uri, h.vms])).toEqual([
        [2, 'kvm1', 'n1', 'qemu:///system', 2],
        [3, 'kvm2', 'n1', 'qemu:///system', 0],
      ]);
    });

    it('sync starts an INVENTORY_SYNC; --wait prints the VMs the node found', async () => {
      const plain = await runVplus(['hypervisor', 'sync', 'kvm1'], { env });
      expect(plain.stdout).toBe('Listing the VMs of hypervisor kvm1: task 41.\nFollow it with: vplus task wait 41\n');
      tasks.set(41, [
        task(41, 'INVENTORY_SYNC', 'hypervisor:kvm1', {
          result: {
            domains: [
              { name: 'prod-db', uuid: VM_UUID, state: 'running', vcpus: 2, memoryBytes: 4 * GiB, disks: [{ target: 'vda', path: '/a', format: 'qcow2', virtualBytes: 40 * GiB, allocatedBytes: null }] },
              { name: 'web', uuid: WEB_UUID, state: 'shut off', vcpus: 1, memoryBytes: 1 * GiB, disks: [] },
            ],
            libvirtVersion: '9.0.0',
          },
        }),
      ]);
      const run = await runVplus(['hypervisor', 'sync', 'kvm1', '--wait'], { env });
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('Task 41 (INVENTORY_SYNC hypervisor:kvm1) finished in 2s.\nFound 2 VMs (libvirt 9.0.0): 1 running, 1 shut off.\n');
      expect(run.stdout).toMatch(/^ {2}prod-db\s+running\s+2\s+4\.00 GiB\s+vda 40\.0 GiB$/m);
      expect(run.stdout).toMatch(/See them with: vplus vm list --hypervisor kvm1\n$/);
    });

    it('remove names what it forgets; an unknown one exits 1', async () => {
      const run = await runVplus(['hypervisor', 'remove', 'kvm1'], { env });
      expect(run.code).toBe(0);
      expect(last('DELETE').url).toBe('/api/hypervisors/kvm1');
      expect(run.stdout).toBe('Removed hypervisor "kvm1" and its 2 VMs from the inventory; backups already taken stay on their destinations (vplus backup list shows them).\n');
      const missing = await runVplus(['hypervisor', 'remove', 'nope'], { env });
      expect(missing.code).toBe(1);
      expect(missing.stderr).toBe('error: there is no hypervisor "nope"\n');
    });
  });

  describe('vm', () => {
    it('list prints id, name, uuid, state, hypervisor, policy and last backup; --hypervisor filters', async () => {
      const run = await runVplus(['vm', 'list'], { env });
      expect(run.code).toBe(0);
      expect(last('GET').url).toBe('/api/vms');
      expect(run.stdout).toMatch(/^ID\s+NAME\s+UUID\s+STATE\s+HYPERVISOR\s+POLICY\s+LAST BACKUP$/m);
      expect(run.stdout).toMatch(new RegExp(`^5\\s+prod-db\\s+${VM_UUID}\\s+running\\s+kvm1\\s+-\\s+\\S+ \\S+$`, 'm'));
      expect(run.stdout).toMatch(new RegExp(`^6\\s+web\\s+${WEB_UUID}\\s+shut off\\s+kvm1\\s+nightly\\s+never$`, 'm'));
      const json = JSON.parse((await runVplus(['vm', 'list', '--json', '--hypervisor', 'kvm1'], { env })).stdout) as Vm[];
      expect(last('GET').url).toBe('/api/vms?hypervisor=kvm1');
      expect(json[0]).toMatchObject({ id: 5, name: 'prod-db', uuid: VM_UUID, state: 'running', hypervisor: 'kvm1', policy: null, lastBackupAt: '2025-01-31T10:00:00.000Z' });
      const empty = await runVplus(['vm', 'list', '--hypervisor', 'empty'], { env });
      expect(empty.stdout).toBe('No VMs on hypervisor empty; list them again with vplus hypervisor sync empty.\n');
    });

    it('show prints the VM, its disks and its recent backups by name; --json the VM', async () => {
      const run = await runVplus(['vm', 'show', 'prod-db'], { env });
      expect(run.code).toBe(0);
      expect(urls('GET').slice(-2)).toEqual(['/api/vms/prod-db', `/api/backups?vm=${VM_UUID}&limit=5`]);
      expect(run.stdout).toMatch(/^Memory: +4\.00 GiB$/m);
      expect(run.stdout).toMatch(/^Last backup: +\S+ \S+ \(incremental\)$/m);
      expect(run.stdout).toMatch(/^ {2}vdb\s+raw\s+100 GiB\s+-\s+yes\s+\/var\/lib\/libvirt\/images\/prod-db-data\.raw$/m);
      expect(run.stdout).toMatch(/^Recent backups:\n {2}ID\s+VM\s+TYPE/m);
      expect(run.stdout).toMatch(/^ {2}14\s+prod-db\s+full\s+/m);
      const json = JSON.parse((await runVplus(['vm', 'show', VM_UUID, '--json'], { env })).stdout) as Vm;
      expect(json).toMatchObject({ id: 5, uuid: VM_UUID, disks: [{ target: 'vda' }, { target: 'vdb' }] });
      const missing = await runVplus(['vm', 'show', 'nope'], { env });
      expect(missing.code).toBe(1);
      expect(missing.stderr).toBe('error: there is no VM "nope"\n');
    });

    it('exclude and include send the whole excluded list and say what backups hold', async () => {
      const run = await runVplus(['vm', 'exclude', 'prod-db', '--disks', 'vdb'], { env });
      expect(run.code).toBe(0);
      expect(last('PATCH')).toEqual({ url: '/api/vms/5', body: { excludedDisks: ['vdb'] } });
      expect(run.stdout).toBe('VM prod-db: backups include vda and leave out vdb.\n');
      const back = await runVplus(['vm', 'include', 'prod-db', '--disks', 'vdb'], { env });
      expect(last('PATCH').body).toEqual({ excludedDisks: [] });
      expect(back.stdout).toBe('VM prod-db: backups include vda, vdb (2 disks, none left out).\n');
    });

    it('a disk the VM does not have exits 1 without changing anything', async () => {
      const run = await runVplus(['vm', 'exclude', 'prod-db', '--disks', 'vdc'], { env });
      expect(run.code).toBe(1);
      expect(run.stderr).toBe('error: VM "prod-db" has no disk vdc; its disks are vda, vdb\n');
      const all = await runVplus(['vm', 'exclude', 'prod-db', '--disks', 'vda,vdb'], { env });
      expect(all.code).toBe(1);
      expect(all.stderr).toBe('error: that would leave every disk of VM "prod-db" out of its backups; keep at least one\n');
      expect(urls('PATCH')).toEqual([]);
    });
  });

  describe('backup run', () => {
    it('uses the only destination when none is named, and says how to follow both tasks', async () => {
      const run = await runVplus(['backup', 'run', 'prod-db'], { env });
      expect(run.code).toBe(0);
      expect(last('POST')).toEqual({ url: '/api/backups/run', body: { vm: 'prod-db', destination: 'nas', full: false } });
      expect(run.stderr).toBe('Storing it in destination nas, the only one.\n');
      expect(run.stdout).toBe(
        'Backing up VM prod-db to destination nas: tasks 31 (EXPORT) and 32 (STORE), workflow 9.\nFollow it with: vplus task wait 31 && vplus task wait 32\n',
      );
    });

    it('--destination and --full are sent as given; with several destinations and none named it exits 2', async () => {
      await runVplus(['backup', 'run', 'prod-db', '--full', '--destination', 'usb'], { env });
      expect(last('POST').body).toEqual({ vm: 'prod-db', destination: 'usb', full: true });
      expect(urls('GET')).not.toContain('/api/destinations');

      destinations = [sampleDestination(), sampleDestination({ id: 4, name: 'usb' })];
      const posts = urls('POST').length;
      const run = await runVplus(['backup', 'run', 'prod-db'], { env });
      expect(run.code).toBe(2);
      expect(run.stderr).toBe('error: there are 2 destinations (nas, usb); choose one with --destination\n');
      expect(urls('POST')).toHaveLength(posts);

      destinations = [];
      const none = await runVplus(['backup', 'run', 'prod-db'], { env });
      expect(none.code).toBe(1);
      expect(none.stderr).toMatch(/^error: there is no destination to store the backup in; add one with vplus destination add/);
    });

    it('--wait follows EXPORT then STORE with progress, prints the fallback warning, what was stored and the catalog id', async () => {
      tasks.set(31, [
        task(31, 'EXPORT', 'vm:prod-db', {
          state: 'FINISHED_WITH_WARNINGS',
          warnings: [CHAIN_WARNING],
          result: { exportId: 'exp-1', type: 'full', disks: [{ target: 'vda', size: 40 * GiB }, { target: 'vdb', size: 100 * GiB }], warnings: [CHAIN_WARNING] },
          log: [sampleLog(1, 'checkpoint vplus-3 is missing; taking a full backup', 'warn')],
        }),
      ]);
      const running = task(32, 'STORE', 'vm:prod-db', {
        state: 'RUNNING',
        finishedAt: null,
        params: storeParams,
        progress: { bytesDone: 6 * GiB, bytesTotal: 12 * GiB, percent: 50, rate: 300 * MiB, etaSeconds: 20, message: 'reading vda' },
        log: [sampleLog(2, 'reading 2 disks over NBD')],
      });
      tasks.set(32, [running, task(32, 'STORE', 'vm:prod-db', { params: storeParams, result: storeResult, log: running.log })]);

      const run = await runVplus(['backup', 'run', 'prod-db', '--wait'], { env });
      expect(run.code).toBe(0);
      // EXPORT to its end first, then STORE; the catalog is asked for the new backup's id.
      expect(taskReads()).toEqual([31, 32, 32]);
      expect(last('GET').url).toBe(`/api/backups?vm=${VM_UUID}&destination=3&limit=20`);
      expect(run.stderr).toContain(`warning: ${CHAIN_WARNING}\n`);
      expect(run.stderr.match(/warning: /g)).toHaveLength(1);
      expect(run.stderr).toContain('Task 32 (STORE vm:prod-db) is running on node n1.\nreading vda…\n');
      expect(run.stderr).toMatch(/^task 32: 50%, 6\.00 GiB of 12\.0 GiB, 300 MiB\/s, ETA \d+s$/m);
      expect(run.stdout).toContain('checkpoint vplus-3 is missing; taking a full backup\n');
      expect(run.stdout).toContain('reading 2 disks over NBD\n');
      const lines = run.stdout.trimEnd().split('\n');
      expect(lines[0]).toBe('Backing up VM prod-db to destination nas: tasks 31 (EXPORT) and 32 (STORE), workflow 9.');
      expect(lines).toContain('Task 31 (EXPORT vm:prod-db) finished in 2s with 1 warning.');
      expect(lines).toContain('Exported 2 disks (140 GiB) for a full backup.');
      expect(lines.indexOf('Task 31 (EXPORT vm:prod-db) finished in 2s with 1 warning.')).toBeLessThan(lines.indexOf('Task 32 (STORE vm:prod-db) finished in 2s.'));
      expect(run.stdout).toContain(`Stored a full backup of prod-db: read 12.0 GiB of 140 GiB of disks; backup ${REPO_BACKUP_ID} in the repository.\n`);
      expect(run.stdout).toMatch(/^ {2}vda\s+40\.0 GiB\s+-\s+10\.0 GiB$/m);
      expect(lines.at(-1)).toBe('Backup 14 on destination nas; restore it with: vplus restore 14 --node NODE --path DIR');
    });

    it('--wait: a failed EXPORT exits 1 with its reason, and STORE is not waited for', async () => {
      tasks.set(31, [task(31, 'EXPORT', 'vm:prod-db', { state: 'FAILED', error: 'domain prod-db is not running and its disks are locked' })]);
      tasks.set(32, [task(32, 'STORE', 'vm:prod-db', { state: 'CANCELLED', error: 'an earlier step (EXPORT task 31) failed' })]);
      const run = await runVplus(['backup', 'run', 'prod-db', '--destination', 'nas', '--wait'], { env });
      expect(run.code).toBe(1);
      expect(taskReads()).toEqual([31]);
      expect(run.stderr.trimEnd().split('\n').at(-1)).toBe('error: task 31 (EXPORT vm:prod-db) failed: domain prod-db is not running and its disks are locked');
    });

    it('--wait: a failed STORE exits 1 after the EXPORT finished', async () => {
      tasks.set(31, [task(31, 'EXPORT', 'vm:prod-db', { result: { exportId: 'exp-1', type: 'incremental', disks: [{ target: 'vda', size: 40 * GiB }], warnings: [] } })]);
      tasks.set(32, [task(32, 'STORE', 'vm:prod-db', { state: 'FAILED', params: storeParams, error: 'node lost: no heartbeat for 30s' })]);
      const run = await runVplus(['backup', 'run', 'prod-db', '--destination', 'nas', '--wait'], { env });
      expect(run.code).toBe(1);
      expect(taskReads()).toEqual([31, 32]);
      expect(run.stdout).toContain('Task 31 (EXPORT vm:prod-db) finished in 2s.\nExported 1 disk (40.0 GiB) for an incremental backup.\n');
      expect(run.stdout).not.toContain('restore it with');
      expect(run.stderr.trimEnd().split('\n').at(-1)).toBe('error: task 32 (STORE vm:prod-db) failed: node lost: no heartbeat for 30s');
    });

    it('an unknown VM exits 1 with the server sentence', async () => {
      const run = await runVplus(['backup', 'run', 'nope', '--destination', 'nas'], { env });
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toBe('error: there is no VM "nope"\n');
    });
  });

  describe('backup list', () => {
    it('resolves a VM name to the UUID backups are recorded by, and shows the name', async () => {
      const run = await runVplus(['backup', 'list', 'prod-db', '--destination', 'nas'], { env });
      expect(run.code).toBe(0);
      expect(urls('GET').slice(-2)).toEqual(['/api/vms/prod-db', `/api/backups?vm=${VM_UUID}&destination=nas`]);
      expect(run.stdout).toMatch(/^14\s+prod-db\s+full\s+/m);
      const json = JSON.parse((await runVplus(['backup', 'list', 'prod-db', '--json'], { env })).stdout) as { vm: string }[];
      expect(json[0]!.vm).toBe(VM_UUID);
    });

    it('a VM the inventory does not know is passed on as given (the backups of a VM gone)', async () => {
      const run = await runVplus(['backup', 'list', 'gone-vm-uuid'], { env });
      expect(run.code).toBe(0);
      expect(last('GET').url).toBe('/api/backups?vm=gone-vm-uuid');
    });

    it('without a VM, names the VMs the inventory knows and leaves the others as recorded', async () => {
      const run = await runVplus(['backup', 'list'], { env });
      expect(urls('GET').slice(-2)).toEqual(['/api/vms', '/api/backups']);
      expect(run.stdout).toMatch(/^12\s+prod-db\s+incremental\s+/m);
      expect(run.stdout).toMatch(/^9\s+gone-vm-uuid\s+full\s+/m);
    });
  });

  describe('restore', () => {
    it('to files sends the request and says how to follow the task', async () => {
      const run = await runVplus(['restore', '14', '--node', 'n1', '--path', '/restore/prod-db', '--format', 'raw', '--disks', 'vda'], { env });
      expect(run.code).toBe(0);
      expect(last('POST')).toEqual({
        url: '/api/restores',
        body: { mode: 'files', backup: 14, node: 'n1', path: '/restore/prod-db', format: 'raw', disks: ['vda'], overwrite: false },
      });
      expect(run.stdout).toBe('Restoring backup 14 (disks vda) as raw to /restore/prod-db on node n1: task 51 (RESTORE).\nFollow it with: vplus task wait 51\n');
    });

    it('to files --wait prints the files written', async () => {
      tasks.set(51, [
        task(51, 'RESTORE', 'backup:14', {
          result: {
            directory: '/restore/prod-db',
            files: [
              { target: 'vda', path: '/restore/prod-db/vda.qcow2', format: 'qcow2', size: 40 * GiB },
              { target: 'vdb', path: '/restore/prod-db/vdb.qcow2', format: 'qcow2', size: 100 * GiB },
            ],
            domainXmlPath: '/restore/prod-db/prod-db.xml',
          },
        }),
      ]);
      const run = await runVplus(['restore', '14', '--node', 'n1', '--path', '/restore/prod-db', '--overwrite', '--wait'], { env });
      expect(run.code).toBe(0);
      expect(last('POST').body).toMatchObject({ format: 'qcow2', overwrite: true });
      expect(run.stdout).toContain(
        'Task 51 (RESTORE backup:14) finished in 2s.\nWrote 2 disk images (140 GiB) to /restore/prod-db:\n' +
          '  vda → /restore/prod-db/vda.qcow2 (qcow2, 40.0 GiB)\n  vdb → /restore/prod-db/vdb.qcow2 (qcow2, 100 GiB)\n  VM definition → /restore/prod-db/prod-db.xml\n',
      );
    });

    it('--import --wait follows RESTORE then IMPORT and prints the new VM', async () => {
      tasks.set(51, [
        task(51, 'RESTORE', 'backup:14', {
          result: { directory: '/var/lib/libvirt/images/copy', files: [{ target: 'vda', path: '/var/lib/libvirt/images/copy/vda.qcow2', format: 'qcow2', size: 40 * GiB }], domainXmlPath: null },
        }),
      ]);
      tasks.set(52, [task(52, 'IMPORT', 'backup:14', { result: { name: 'copy', uuid: '11111111-2222-3333-4444-555555555555', started: true } })]);
      const run = await runVplus(['restore', '14', '--import', '--hypervisor', 'kvm1', '--name', 'copy', '--start', '--wait'], { env });
      expect(run.code).toBe(0);
      expect(last('POST').body).toEqual({ mode: 'import', backup: 14, hypervisor: 'kvm1', name: 'copy', start: true, overwrite: false });
      expect(taskReads()).toEqual([51, 52]);
      const lines = run.stdout.trimEnd().split('\n');
      expect(lines[0]).toBe('Restoring backup 14 into hypervisor kvm1 as the new VM copy, then starting it: tasks 51 (RESTORE) and 52 (IMPORT), workflow 11.');
      expect(lines.at(-2)).toBe('Task 52 (IMPORT backup:14) finished in 2s.');
      expect(lines.at(-1)).toBe('Defined the new VM copy (UUID 11111111-2222-3333-4444-555555555555); it is running.');
    });

    it('--import: a RESTORE that fails exits 1 and the IMPORT is not waited for', async () => {
      tasks.set(51, [task(51, 'RESTORE', 'backup:14', { state: 'FAILED', error: '/var/lib/libvirt/images/copy/vda.qcow2 exists; restore with --overwrite to replace it' })]);
      const run = await runVplus(['restore', '14', '--import', '--hypervisor', 'kvm1', '--name', 'copy', '--wait'], { env });
      expect(run.code).toBe(1);
      expect(taskReads()).toEqual([51]);
      expect(run.stderr.trimEnd().split('\n').at(-1)).toBe(
        'error: task 51 (RESTORE backup:14) failed: /var/lib/libvirt/images/copy/vda.qcow2 exists; restore with --overwrite to replace it',
      );
    });
  });
});
