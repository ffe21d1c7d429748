// The bundled plugin as a real process: what a runtime (or Multus) actually executes, chained with
// and delegating to the reference plugins of containernetworking-plugins.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeCniHandler } from '../agent/cni-fake-handler.js';
import { startCniServer, type CniServer } from '../agent/cni-server.js';
import { ProcessRunner, runChecked } from '../util/exec.js';
import { bundlePlugin, runProcess } from './bundle.js';

let dir: string;
let plugin: string;
let inputs: string[];
let sock: string;
let server: CniServer;
let handler: FakeCniHandler;
const ip = new ProcessRunner();
const isRoot = process.getuid?.() === 0;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mn-cniproc-'));
  ({ file: plugin, inputs } = await bundlePlugin(dir));
  sock = join(dir, 'cni.sock');
  handler = new FakeCniHandler();
  server = await startCniServer(sock, {
    add: (r, c) => handler.add(r, c),
    del: (r, c) => handler.del(r, c),
    check: (r, c) => handler.check(r, c),
    status: (r, c) => handler.status(r, c),
    gc: (r, c) => handler.gc(r, c),
  });
});
after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

function cni(env: Record<string, string | undefined>, conf: unknown) {
  // A runtime passes only the CNI variables (plus PATH): no NODE_OPTIONS from the test runner.
  return runProcess(process.execPath, [plugin], { PATH: process.env.PATH, ...env }, JSON.stringify(conf));
}

const seed = (v: string, extra: Record<string, unknown> = {}) => ({
  cniVersion: v,
  name: 'network-blue',
  type: 'calico',
  ipam: { type: 'whereabouts' },
  dataplane_options: { network_name: 'blue' },
  ...extra,
});

describe('bundled plugin process', () => {
  test('the bundle holds only node builtins and the small CNI modules', () => {
    const ours = inputs.filter((p) => !p.startsWith('node_modules'));
    assert.deepEqual(
      inputs.filter((p) => p.startsWith('node_modules')),
      [],
      'no npm dependency in the plugin',
    );
    for (const p of ours) assert.match(p, /^src\/cni\/[a-z-]+\.ts$/);
  });

  test('VERSION, ADD, DEL, and an error exit code', async () => {
    const v = await cni({ CNI_COMMAND: 'VERSION' }, { cniVersion: '1.0.0' });
    assert.equal(v.code, 0);
    assert.deepEqual(JSON.parse(v.stdout).supportedVersions, ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']);
    const env = {
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: 'p1',
      CNI_NETNS: '/var/run/netns/none',
      CNI_IFNAME: 'eth1',
      CNI_PATH: '/usr/lib/cni',
      MULTINET_CNI_SOCKET: sock,
    };
    const add = await cni(env, seed('1.1.0'));
    assert.equal(add.code, 0, add.stdout + add.stderr);
    assert.equal(JSON.parse(add.stdout).interfaces[0].name, 'eth1');
    const del = await cni({ ...env, CNI_COMMAND: 'DEL' }, seed('1.1.0'));
    assert.deepEqual([del.code, del.stdout], [0, '']);
    const down = await cni({ ...env, MULTINET_CNI_SOCKET: join(dir, 'none.sock') }, seed('1.1.0'));
    assert.equal(down.code, 11);
    assert.equal(JSON.parse(down.stdout).code, 11);
  });

  test('static IPAM delegated through the real process', async (t) => {
    if (!existsSync('/usr/lib/cni/static'))
      return t.skip('/usr/lib/cni/static missing (containernetworking-plugins)');
    const env = {
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: 'p2',
      CNI_NETNS: '/var/run/netns/none',
      CNI_IFNAME: 'net1',
      CNI_PATH: '/usr/lib/cni',
      MULTINET_CNI_SOCKET: sock,
    };
    const conf = seed('1.0.0', { ipam: { type: 'static', addresses: [{ address: '10.88.0.7/24' }] } });
    const add = await cni(env, conf);
    assert.equal(add.code, 0, add.stdout);
    assert.deepEqual(JSON.parse(add.stdout).ips, [{ address: '10.88.0.7/24', interface: 0 }]);
    assert.equal((await cni({ ...env, CNI_COMMAND: 'DEL' }, conf)).code, 0);
  });
});

describe('chained with the reference tuning plugin (real netns)', () => {
  const ns = `mn-cnit-${randomBytes(3).toString('hex')}`;
  let made = false;
  after(async () => {
    if (made) await ip.run('ip', ['netns', 'del', ns]);
  });

  for (const v of ['0.4.0', '1.0.0']) {
    test(`ADD then tuning at ${v}; DEL in reverse`, async (t) => {
      if (!isRoot) return t.skip('needs root');
      if (!existsSync('/usr/lib/cni/tuning'))
        return t.skip('/usr/lib/cni/tuning missing (containernetworking-plugins)');
      if (!made) {
        await runChecked(ip, 'ip', ['netns', 'add', ns]);
        made = true;
      }
      const ifName = v === '1.0.0' ? 'net1' : 'net0'; // distinct, so one failure does not cascade
      const netns = `/var/run/netns/${ns}`;
      // The fake agent does what the real one will: the interface exists in the pod when ADD returns.
      const h = new FakeCniHandler({
        onAdd: async (r) => {
          // veth (no dummy module on this kernel); the peer stays in the same test namespace.
          await runChecked(ip, 'ip', [
            '-n',
            ns,
            'link',
            'add',
            r.ifName,
            'type',
            'veth',
            'peer',
            'name',
            `${r.ifName}-p`,
          ]);
        },
        onDel: async (r) => {
          await runChecked(ip, 'ip', ['-n', ns, 'link', 'del', r.ifName]);
        },
      });
      handler = h;
      const env = {
        CNI_COMMAND: 'ADD',
        CNI_CONTAINERID: `c${v.replace(/\./g, '')}`,
        CNI_NETNS: netns,
        CNI_IFNAME: ifName,
        CNI_PATH: '/usr/lib/cni',
        CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=samplepod',
        MULTINET_CNI_SOCKET: sock,
      };
      // The runtime gives the first plugin no prevResult, and each later plugin the previous result.
      const ours = await cni(env, seed(v));
      assert.equal(ours.code, 0, ours.stdout);
      const tuningConf = {
        cniVersion: v,
        name: 'network-blue',
        type: 'tuning',
        mac: 'c2:aa:bb:cc:dd:01',
        sysctl: { [`net.ipv4.conf.${ifName}.forwarding`]: '1' },
      };
      const tuned = await runProcess(
        '/usr/lib/cni/tuning',
        [],
        env,
        JSON.stringify({ ...tuningConf, prevResult: JSON.parse(ours.stdout) }),
      );
      assert.equal(tuned.code, 0, tuned.stdout + tuned.stderr);
      const final = JSON.parse(tuned.stdout);
      assert.equal(final.cniVersion, v);
      assert.equal(final.interfaces[0].mac, 'c2:aa:bb:cc:dd:01');
      assert.equal(final.ips[0].address, '10.99.0.2/24');
      const link = await runChecked(ip, 'ip', ['-n', ns, '-j', 'link', 'show', ifName]);
      assert.equal(JSON.parse(link.stdout)[0].address, 'c2:aa:bb:cc:dd:01');
      const sysctl = await runChecked(ip, 'ip', [
        'netns',
        'exec',
        ns,
        'cat',
        `/proc/sys/net/ipv4/conf/${ifName}/forwarding`,
      ]);
      assert.equal(sysctl.stdout.trim(), '1');
      // CHECK of the whole chain (0.4.0+), with the final result as prevResult.
      const chk = await cni({ ...env, CNI_COMMAND: 'CHECK' }, seed(v, { prevResult: final }));
      assert.deepEqual([chk.code, chk.stdout], [0, '']);
      // DEL runs the chain in reverse; then our interface is gone.
      const tdel = await runProcess(
        '/usr/lib/cni/tuning',
        [],
        { ...env, CNI_COMMAND: 'DEL' },
        JSON.stringify({ ...tuningConf, prevResult: final }),
      );
      assert.equal(tdel.code, 0, tdel.stdout);
      const del = await cni({ ...env, CNI_COMMAND: 'DEL' }, seed(v, { prevResult: final }));
      assert.deepEqual([del.code, del.stdout], [0, '']);
      const links = await runChecked(ip, 'ip', ['-n', ns, '-j', 'link', 'show']);
      assert.deepEqual(
        JSON.parse(links.stdout).map((l: { ifname: string }) => l.ifname),
        ['lo'],
        'veth pair removed',
      );
    });
  }
});
