// Public surface of the IPAM.
export {
  Ipam,
  type AllocateRequest,
  type Allocation,
  type AllocatedIp,
  type ReleaseRequest,
  type IpamOptions,
} from './allocator.js';
export { compilePool, IpamError, type IpPool, type IpRange, type Family } from './pool.js';
export {
  reconcile,
  attachmentLiveness,
  usage,
  type IsLive,
  type ReconcileOptions,
  type ReconcileResult,
  type NetworkUsage,
} from './reconcile.js';
export { poolFromWhereabouts } from './whereabouts.js';
export * from './records.js';
