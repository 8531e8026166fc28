import type { Vm } from '@common/api/index.js';
import { useVmsQuery } from '../api/vms.queries.js';

/** The inventory's VM a backup (or a mount of one) is of: the catalog names it by UUID, or by name for older backups. */
export function useInventoryVm(ref: string): Vm | undefined {
  const vms = useVmsQuery();
  return vms.data?.find((vm) => vm.uuid === ref) ?? vms.data?.find((vm) => vm.name === ref);
}
