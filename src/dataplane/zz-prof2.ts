import { expandDesired } from './desired.js';
import { parseLinks, parseAddrs, parseRoutes, parseNeighs } from './linux.js';
import { canonIp, canonCidr, hostCidr } from './addr.js';
import { hostVethName, hostVethMac, podMac } from './naming.js';
import type { DesiredNode } from './types.js';
const N = 1000;
const names = Array.from({ length: N }, (_, i) => `mn-pfx-m${i}`);
const d: DesiredNode = { name: 'pf', netns: 'host', underlay: { address: '10.99.0.1', mtu: 1500 }, networks: [{ name: 'blue', vni: 56, ranges: ['10.60.0.0/16'] }],
  pods: names.map((n, i) => ({ network: 'blue', netns: n, ifname: 'eth0', addresses: [`10.60.${4 + (i >> 8)}.${i & 255}`], routes: ['10.60.0.0/16'] })), remotes: [{ name: 'x', underlay: '10.99.0.2', pods: { blue: ['10.60.0.2'] } }] };
const time = (what: string, f: () => void, n = 5) => { f(); const t = performance.now(); for (let i = 0; i < n; i++) f(); console.log(what, ((performance.now() - t) / n).toFixed(2), 'ms'); };
time('expandDesired', () => expandDesired(d));
time('canonIp x1000', () => { for (let i = 0; i < N; i++) canonIp(`10.60.4.${i & 255}`); });
time('canonCidr x1000', () => { for (let i = 0; i < N; i++) canonCidr('10.60.0.0/16'); });
time('hostCidr x1000', () => { for (let i = 0; i < N; i++) hostCidr(`10.60.4.${i & 255}`); });
time('hostVethName x1000', () => { for (const p of d.pods) hostVethName(p); });
time('macs x1000', () => { for (const p of d.pods) { hostVethMac(p); podMac(p); } });
