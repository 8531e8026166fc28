import path from 'node:path';
import type { KvmSetup } from './kvm-setup.js';
import { vplus, vplusOk, type Proc } from './processes.js';
import { waitFor } from './test-server.js';

/** A node enrolled with the built CLI and run as a real `vplus node-service run` process (it can be SIGKILLed). */
export interface ExternalNode {
  config: string;
  /** Its staging dir (0755, under the libvirt host's /var/tmp dir, so QEMU reaches NBD sockets there). */
  staging: string;
  /** Every process started, the last one current. */
  procs: Proc[];
  /** Starts the node service and waits until the server lists it online. */
  run(): Promise<Proc>;
  status(): Promise<string | undefined>;
  /** SIGTERM (then SIGKILL after 20 s) to every process still running. */
  stopAll(): Promise<void>;
}

export async function enrollExternalNode(bed: KvmSetup, name: string): Promise<ExternalNode> {
  const token = await bed.api<{ token: string }>('POST', '/api/nodes/tokens');
  const config = path.join(bed.host.subdir('node'), 'node.json');
  const staging = bed.host.subdir('staging');
  await vplusOk(['node-service', 'enroll', '--server', bed.t.server.url, '--token', token.body.token, '--fingerprint', bed.t.server.fingerprint, '--config', config, '--name', name, '--staging', staging]);
  const procs: Proc[] = [];
  const status = async (): Promise<string | undefined> => (await bed.api<{ name: string; status: string }[]>('GET', '/api/nodes')).body.find((n) => n.name === name)?.status;
  return {
    config,
    staging,
    procs,
    status,
    run: async () => {
      const p = vplus(['node-service', 'run', '--config', config, '--log-level', 'warn']);
      procs.push(p);
      await waitFor(`node ${name} online`, async () => ((await status()) === 'online' ? true : undefined), 60_000).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}; node output: ${p.output()}`);
      });
      return p;
    },
    stopAll: async () => {
      for (const p of procs) {
        if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
        p.child.kill('SIGTERM');
        const stopped = await Promise.race([p.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 20_000))]);
        if (!stopped) p.child.kill('SIGKILL');
      }
    },
  };
}
