/**
 * The libvirt XML of a throwaway VM with no OS, for the VM benchmark and the tests: QEMU in
 * TCG mode (domain type 'qemu'), 64 MiB, no network or display. It only has to run so QEMU
 * holds the disks, which is all a backup job needs.
 */
export function scratchDomainXml(name: string, disks: readonly { target: string; path: string; format?: string }[]): string {
  const diskXml = disks
    .map((d) => `<disk type='file' device='disk'><driver name='qemu' type='${d.format ?? 'qcow2'}'/><source file='${d.path}'/><target dev='${d.target}' bus='virtio'/></disk>`)
    .join('\n    ');
  return `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <on_reboot>destroy</on_reboot>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    ${diskXml}
    <serial type='null'/>
    <video><model type='none'/></video>
    <memballoon model='none'/>
  </devices>
</domain>`;
}
