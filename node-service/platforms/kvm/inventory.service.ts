/**
 * Lists the VMs of a libvirt host with what an admin sees on the Virtual machines page:
 * state, vCPUs, memory and every disk with its path, format and sizes.
 */
import { parseDomainXml } from './domain-xml.js';
import { KvmError } from './errors.js';
import type { DomainState, Virsh } from './virsh.adapter.js';

export interface InventoryDisk {
  target: string;
  device: string;
  path: string | null;
  format: string | null;
  virtualBytes: number | null;
  allocatedBytes: number | null;
}

export interface InventoryVm {
  name: string;
  uuid: string;
  state: DomainState;
  vcpus: number;
  memoryBytes: number;
  disks: InventoryDisk[];
}

export class KvmInventory {
  constructor(private readonly virsh: Virsh) {}

  async list(): Promise<InventoryVm[]> {
    const out: InventoryVm[] = [];
    for (const uuid of await this.virsh.listDomains()) {
      try {
        out.push(await this.describe(uuid));
      } catch (err) {
        // A VM undefined between the list and its details is simply gone.
        if (err instanceof KvmError && err.code === 'KVM_DOMAIN_NOT_FOUND') continue;
        throw err;
      }
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async describe(domain: string): Promise<InventoryVm> {
    const facts = parseDomainXml(await this.virsh.dumpXml(domain));
    const state = await this.virsh.state(domain);
    const disks: InventoryDisk[] = [];
    for (const d of facts.disks) {
      let sizes: { capacity: number; allocation: number } | null = null;
      if (d.path) {
        // An empty CD-ROM or a missing file has no size; that must not hide the VM.
        sizes = await this.virsh.blockInfo(domain, d.target).catch(() => null);
      }
      disks.push({
        target: d.target,
        device: d.device,
        path: d.path,
        format: d.format,
        virtualBytes: finite(sizes?.capacity),
        allocatedBytes: finite(sizes?.allocation),
      });
    }
    return { name: facts.name, uuid: facts.uuid, state, vcpus: facts.vcpus, memoryBytes: facts.memoryBytes, disks };
  }
}

function finite(n: number | undefined): number | null {
  return n !== undefined && Number.isFinite(n) ? n : null;
}
