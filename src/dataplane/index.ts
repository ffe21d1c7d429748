// Public API of the dataplane: the desired-state contract, the driver interface, the Linux driver,
// the in-memory fake, and the pure pieces (expand + diff) for those who want to plan without I/O.
export type * from './types.js';
export { LinuxDataplane, LinuxKernel } from './linux.js';
export { FakeDataplane, FakeKernel } from './fake.js';
export { Reconciler, type KernelIO } from './reconcile.js';
export { diff, countOps, type Op, type Plan, type Batch } from './diff.js';
export { expandDesired, validateDesired, overlayMtu, DesiredStateError, type WantNode } from './desired.js';
export {
  routingNs,
  routingNsPrefix,
  vxlanName,
  hostVethName,
  vtepMac,
  vtepNextHop,
  podKey,
  RT_PROTO,
  GATEWAY_V4,
  GATEWAY_V6,
} from './naming.js';
