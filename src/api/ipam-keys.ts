// Keys of a Whereabouts `ipam` section: the ones the agent implements, and for every other key
// Whereabouts documents (README, doc/extended-configuration.md, pkg/types/types.go) what we say
// about it. A key that would change which addresses are handed out is an error, so a NAD never
// silently allocates differently from what its author wrote; a purely operational one (storage,
// logging, leader election, reconciler schedule) is ignored with a note.

/** Keys the agent's IPAM reads. */
export const IPAM_KEYS: readonly string[] = [
  'type',
  'range',
  'range_start',
  'range_end',
  'exclude',
  'ipRanges',
  'network_name',
  'enable_overlapping_ranges',
  // The seed's `"network": "blue"` (ours, not Whereabouts').
  'network',
];

const OPERATIONAL =
  'is Whereabouts operational configuration; multinet ignores it (the agent keeps IPAM state in its own datastore)';

/** Whereabouts keys we do not implement, with what we say. */
const NOT_IMPLEMENTED: Readonly<Record<string, { severity: 'error' | 'note'; reason: string }>> = {
  node_slice_size: {
    severity: 'error',
    reason:
      'Whereabouts "Fast IPAM" node slices are not implemented by multinet: every node allocates from the whole range; remove node_slice_size',
  },
  addresses: {
    severity: 'error',
    reason:
      'static addresses in the ipam section are not implemented by multinet; ask for an address with "ips" in the pod\'s k8s.v1.cni.cncf.io/networks annotation',
  },
  gateway: {
    severity: 'note',
    reason:
      'not implemented by multinet and ignored: pods reach their network through the gateway 169.254.1.1',
  },
  routes: {
    severity: 'note',
    reason:
      "not implemented by multinet and ignored: the agent gives each pod routes to its network's ranges",
  },
  dns: { severity: 'note', reason: 'not implemented by multinet and ignored: the CNI result carries no DNS' },
  datastore: { severity: 'note', reason: OPERATIONAL },
  kubernetes: { severity: 'note', reason: OPERATIONAL },
  etcd_host: { severity: 'note', reason: OPERATIONAL },
  etcd_username: { severity: 'note', reason: OPERATIONAL },
  etcd_password: { severity: 'note', reason: OPERATIONAL },
  etcd_key_file: { severity: 'note', reason: OPERATIONAL },
  etcd_cert_file: { severity: 'note', reason: OPERATIONAL },
  etcd_ca_cert_file: { severity: 'note', reason: OPERATIONAL },
  configuration_path: {
    severity: 'note',
    reason:
      'not implemented by multinet and ignored: no flat file is read, so keys in it do not apply; put range keys in the NAD',
  },
  log_file: { severity: 'note', reason: OPERATIONAL },
  log_level: { severity: 'note', reason: OPERATIONAL },
  leader_lease_duration: { severity: 'note', reason: OPERATIONAL },
  leader_renew_deadline: { severity: 'note', reason: OPERATIONAL },
  leader_retry_period: { severity: 'note', reason: OPERATIONAL },
  reconciler_cron_expression: {
    severity: 'note',
    reason:
      'is ignored: the agent reclaims leaked addresses periodically itself (see multinet ipam reconcile)',
  },
  sleep_for_race: {
    severity: 'note',
    reason: 'is ignored: multinet claims addresses without a race to sleep through',
  },
};

/** What to say about a key outside IPAM_KEYS: a named refusal or note, or "unknown field". */
export function ipamKeyIssue(key: string): { severity: 'error' | 'note'; reason: string } {
  if (Object.hasOwn(NOT_IMPLEMENTED, key)) return NOT_IMPLEMENTED[key]!;
  return { severity: 'error', reason: `unknown field (expected one of: ${IPAM_KEYS.join(', ')})` };
}
