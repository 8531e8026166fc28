/**
 * The setup the KVM integration tests share: a libvirt host with the test's VMs, a real server
 * (its own MariaDB) past first-run setup, a node serving the host, and the destinations and the
 * hypervisor added through the API. close() undoes it last first, and so does a setup that fails
 * halfway.
 */
import path from 'node:path';
import type { BootConfigInput } from '../../electron/server/boot-config.js';
import type { Clock } from '../../electron/server/clock.js';
import { defaultHandlers } from '../../node-service/agent/node-service.js';
import { KvmExportRegistry } from '../../node-service/platforms/kvm/index.js';
import type { ApiResponse } from './api-client.js';
import { ensureLibvirt, LibvirtTestHost } from './libvirt-host.js';
import { Teardown, undoOnFailure } from './teardown.js';
import { enrollTestNode, type TestNode } from './test-node.js';
import { setupAdmin, startTestServer, type TestServer } from './test-server.js';

/** A request as the admin. */
export type AdminRequest = <T = unknown>(method: string, path: string, body?: unknown) => Promise<ApiResponse<T>>;

async function create(on: { api: AdminRequest }, what: string, p: string, body: unknown): Promise<void> {
  const res = await on.api('POST', p, body);
  if (res.status !== 201) throw new Error(`adding the ${what} failed: ${res.status} ${res.text}`);
}

/** A destination (a repository directory on a node), added through the API. */
export const addDestination = (on: { api: AdminRequest }, destination: { name: string; node: string; path: string }): Promise<void> =>
  create(on, 'destination', '/api/destinations', destination);

/** A hypervisor: the node's libvirt, whose VMs the server then lists. */
export const addHypervisor = (on: { api: AdminRequest }, hypervisor: { name: string; node: string }): Promise<void> =>
  create(on, 'hypervisor', '/api/hypervisors', hypervisor);

/** A node agent enrolled in this process with the real task handlers. */
export interface InProcessNode {
  name: string;
  maxConcurrentTasks?: number;
  /**
   * A directory under the libvirt host for the KVM handlers' NBD sockets and scratch files, where
   * QEMU (another user) reaches them; default: the node's private staging dir.
   */
  kvmWorkDir?: string;
  /** host:port for iSCSI exports of mounts (tests: 127.0.0.1 and a free port). */
  iscsiPortal?: string;
}

export interface KvmSetupOptions {
  /** Names the libvirt host's directory (/var/tmp/vplus-kvm-LABEL-…). */
  label: string;
  /** Runs on the fresh libvirt host before the server starts: the disks and VMs the hypervisor then lists. */
  prepare?: (host: LibvirtTestHost) => Promise<void>;
  /** Boot config of the server; the node heartbeat is 1 s unless given. */
  server?: Partial<BootConfigInput>;
  /** The server's clock (schedules, policy runs, snapshot names). */
  clock?: Clock;
  /**
   * The node serving the destinations and the hypervisor. `external`: the test brings it up
   * itself (a `vplus node-service run` process, say), then calls addDestination/addHypervisor.
   */
  node: InProcessNode | { name: string; external: true };
  /** Destinations added once the node is up, each at destinationPath(name). */
  destinations?: string[];
  /** A hypervisor of this name added last, on the node. */
  hypervisor?: string;
}

export interface KvmSetup {
  host: LibvirtTestHost;
  t: TestServer;
  /** The admin's bearer token. */
  admin: string;
  /** The in-process node; undefined for an external one. */
  node: TestNode | undefined;
  nodeName: string;
  api: AdminRequest;
  /** Where a destination's repository is: a directory of the libvirt host. */
  destinationPath(name: string): string;
  /** Adds a destination on the node, at destinationPath(name) unless given. */
  addDestination(name: string, at?: string): Promise<void>;
  addHypervisor(name: string): Promise<void>;
  /** Stops the node and the server (its data goes too) and removes the VMs and the host's files. */
  close(): Promise<void>;
}

export async function startKvmSetup(options: KvmSetupOptions & { node: InProcessNode }): Promise<KvmSetup & { node: TestNode }>;
export async function startKvmSetup(options: KvmSetupOptions): Promise<KvmSetup>;
export async function startKvmSetup(options: KvmSetupOptions): Promise<KvmSetup> {
  await ensureLibvirt();
  const teardown = new Teardown();
  return undoOnFailure(teardown, async () => {
    const host = new LibvirtTestHost(options.label);
    teardown.add(() => host.cleanup());
    await options.prepare?.(host);

    const t = await startTestServer({ nodeHeartbeatSeconds: 1, ...options.server }, options.clock ? { clock: options.clock } : {});
    teardown.add(() => t.destroy());
    const admin = await setupAdmin(t.api);
    const api: AdminRequest = (method, p, body) => t.api.request(method, p, body, { token: admin });

    const spec = options.node;
    let node: TestNode | undefined;
    if (!('external' in spec)) {
      // One registry for the handlers, the node's calls and its stop, as in the node service.
      const exports = new KvmExportRegistry();
      const kvm = { registry: exports, ...(spec.kvmWorkDir !== undefined ? { workDir: host.subdir(spec.kvmWorkDir) } : {}) };
      const enrolled = await enrollTestNode(t.api, admin, {
        name: spec.name,
        handlers: (mount) => defaultHandlers({ name: spec.name }, kvm, { ...mount, ...(spec.iscsiPortal ? { iscsiPortal: spec.iscsiPortal } : {}) }),
        exports,
        ...(spec.maxConcurrentTasks !== undefined ? { maxConcurrentTasks: spec.maxConcurrentTasks } : {}),
        serverUrl: t.server.url,
        fingerprint: t.server.fingerprint,
      });
      teardown.add(() => enrolled.stop());
      node = enrolled;
    }

    const destinationPath = (name: string): string => path.join(host.subdir(`repo-${name}`), 'vplus');
    const setup: KvmSetup = {
      host,
      t,
      admin,
      node,
      nodeName: spec.name,
      api,
      destinationPath,
      addDestination: (name, at = destinationPath(name)) => addDestination(setup, { name, node: spec.name, path: at }),
      addHypervisor: (name) => addHypervisor(setup, { name, node: spec.name }),
      close: () => teardown.run(),
    };
    for (const name of options.destinations ?? []) await setup.addDestination(name);
    if (options.hypervisor !== undefined) await setup.addHypervisor(options.hypervisor);
    return setup;
  });
}
