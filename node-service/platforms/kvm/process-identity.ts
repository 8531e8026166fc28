/** Process identities live with the repository's leases, the lowest layer that needs them. */
export { currentProcess, identifyProcess, isAlive, parseStartTime, type ProcessIdentity } from '../../repository/process-identity.js';
