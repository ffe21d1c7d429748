// The CNI result of one attachment (its interface, addresses and routes; the plugin merges any
// prevResult and converts to the runtime's version).
import { isIP } from 'node:net';
import type { AttachmentRecord } from '../calc/records.js';
import type { CniResult100 } from '../cni/protocol.js';
import { GATEWAY_V4, GATEWAY_V6 } from '../dataplane/naming.js';

export function attachmentResult(rec: AttachmentRecord, ranges: readonly string[]): CniResult100 {
  const has6 = rec.ips.some((a) => isIP(a) === 6);
  const has4 = rec.ips.some((a) => isIP(a) === 4);
  const routes = ranges
    .filter((r) => (r.includes(':') ? has6 : has4))
    .map((dst) => ({ dst, gw: dst.includes(':') ? GATEWAY_V6 : GATEWAY_V4 }));
  if (rec.defaultRoute) {
    if (has4) routes.push({ dst: '0.0.0.0/0', gw: GATEWAY_V4 });
    if (has6) routes.push({ dst: '::/0', gw: GATEWAY_V6 });
  }
  return {
    cniVersion: '1.1.0',
    interfaces: [{ name: rec.ifName, mac: rec.mac, sandbox: rec.netns }],
    ips: rec.ips.map((a) => ({
      address: `${a}/${isIP(a) === 6 ? 128 : 32}`,
      gateway: isIP(a) === 6 ? GATEWAY_V6 : GATEWAY_V4,
      interface: 0,
    })),
    routes,
  };
}
