// Source validation in every routing domain (Calico's RPF check): a packet arriving from a pod's
// veth passes only if its source routes back out of that same veth, i.e. it is one of that
// interface's own addresses in this network. A multi-homed pod cannot carry another network's
// address into this one, and a forged source gets nothing through. The table is static (the
// routing domain's /32 routes to local pods are the allow list), so pods coming and going write
// nothing here.
import { HOST_VETH_PREFIX } from '../dataplane/naming.js';
import type { NftTableSpec } from '../dataplane/nft-types.js';

export const SOURCE_CHECK_TABLE = 'mnrpf';

/** The `inet mnrpf` table: before conntrack (priority raw), so a spoofed packet creates no state. */
export function sourceCheckTable(): NftTableSpec {
  const veths = `"${HOST_VETH_PREFIX}*"`;
  return {
    family: 'inet',
    name: SOURCE_CHECK_TABLE,
    skeleton: [
      '  chain prerouting {',
      '    type filter hook prerouting priority raw; policy accept;',
      // IPv6 neighbour discovery and DAD use link-local and unspecified sources, never routed.
      `    iifname ${veths} ip6 saddr { ::, fe80::/10 } accept`,
      `    iifname ${veths} fib saddr . iif oif missing counter drop`,
      '  }',
    ].join('\n'),
    elements: {},
  };
}
