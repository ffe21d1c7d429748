// Network-aware Services -> what each network's routing domain needs: the ClusterIP routes pods
// get through their interface in that network, and the `mnsvc` nft table. Pure.
// (Filled in by the services work, issue 7; until then no service is programmed.)
import type { NftTableSpec } from '../dataplane/nft-types.js';
import type { ClusterView } from './node-state.js';

export interface ServiceState {
  /** Per network: destinations (ClusterIP/32) routed from pods through their interface in it. */
  readonly routes: ReadonlyMap<string, readonly string[]>;
  /** Per network: the services table of its routing domain (absent: no services). */
  readonly tables: ReadonlyMap<string, NftTableSpec>;
}

export function serviceState(_view: ClusterView): ServiceState {
  return { routes: new Map(), tables: new Map() };
}
