// Whether a dataplane sync failed this attachment. The sync programs the whole node, so its report
// may hold other pods' failures: those are theirs (their own ADD or the next sync), not this one's.
import type { AttachmentRecord } from '../calc/records.js';
import { podKey } from '../dataplane/naming.js';
import type { SyncError, SyncReport } from '../dataplane/types.js';

/**
 * The failure to report for `rec`, if any: one of this pod's (its interface, or its namespace,
 * whose first interface carries the source rules of all of them), else one of shared state
 * (routing namespace, VXLAN: no pod named, so possibly needed by this one). Undefined when every
 * failure names another pod.
 */
export function syncFailure(report: SyncReport, rec: AttachmentRecord): SyncError | undefined {
  const key = podKey({ network: rec.network, netns: rec.netns, ifname: rec.ifName });
  const ofThisPod = (e: SyncError) => e.podKey === key || (e.podKey !== undefined && e.netns === rec.netns);
  return report.errors.find(ofThisPod) ?? report.errors.find((e) => e.podKey === undefined);
}
