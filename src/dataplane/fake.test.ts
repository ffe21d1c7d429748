import { dataplaneContract } from './contract.js';
import { FakeDataplane, FakeKernel } from './fake.js';

dataplaneContract('fake', async () => {
  const kernel = new FakeKernel();
  kernel.addNamespace('node1');
  let breakNext = false;
  let seen = 0;
  kernel.failWhen = (op) => {
    if (!breakNext || op.kind !== 'route-replace') return false;
    // fail the second half of the route ops of this sync, like a batch that died halfway
    if (++seen > 1) return true;
    return false;
  };
  return {
    dp: new FakeDataplane(kernel),
    nodeNs: 'node1',
    async makePod(i) {
      kernel.addNamespace(`pod${i}`);
      return `pod${i}`;
    },
    async deleteRoute(ns, dst) {
      const n = kernel.ns(ns);
      n.routes = n.routes.filter((r) => r.dst !== dst);
    },
    breakNextRouteBatch() {
      breakNext = true;
      seen = 0;
      const orig = kernel.readNodeLinks.bind(kernel);
      let syncs = 0;
      kernel.readNodeLinks = async (node) => {
        if (++syncs > 1) breakNext = false;
        return orig(node);
      };
    },
    async addForeignLink(ns, name) {
      kernel.ns(ns).links.push({ name, kind: 'dummy', mtu: 1500, up: true, mac: '02:00:00:00:00:99' });
    },
    async makeTap(ns, name, mac) {
      kernel.ns(ns).links.push({ name, kind: 'tun', mtu: 1500, up: false, mac });
    },
    async hasLink(ns, name) {
      return kernel.namespaces.get(ns)?.links.some((l) => l.name === name) ?? false;
    },
    async namespaceExists(ns) {
      return kernel.namespaces.has(ns);
    },
    async cleanup() {},
  };
});
