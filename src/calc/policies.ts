// Network-aware policies -> the `mnpol` nft table of each network's routing domain on one node
// (chains per local pod interface). Pure.
// (Filled in by the policies work, issue 8; until then no policy is enforced.)
import type { NftTableSpec } from '../dataplane/nft-types.js';
import type { ClusterView } from './node-state.js';

/** Per network present on `node`: its policy table (absent: nothing to enforce). */
export function policyTables(_view: ClusterView, _node: string): ReadonlyMap<string, NftTableSpec> {
  return new Map();
}
