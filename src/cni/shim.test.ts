// The native shim (dist/multinet-cni) against a real agent socket: it must print exactly what the
// Node plugin prints for the same input, and keep the spec's exit codes; with no agent, error 11.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeCniHandler } from '../agent/cni-fake-handler.js';
import { startCniServer, type CniServer } from '../agent/cni-server.js';
import { bundlePlugin, runProcess } from './bundle.js';

const SHIM = fileURLToPath(new URL('../../multinet-cni', import.meta.url));
const skip = existsSync(SHIM) ? false : 'the native shim was not built (no C compiler at build time)';

describe('native CNI shim', { skip }, () => {
  let dir: string;
  let bundle: string;
  let sock: string;
  let server: CniServer;
  const handler = new FakeCniHandler();
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mn-shim-'));
    ({ file: bundle } = await bundlePlugin(dir));
    sock = join(dir, 'cni.sock');
    server = await startCniServer(sock, handler);
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const conf = (v: string) =>
    JSON.stringify({
      cniVersion: v,
      name: 'network-blue',
      type: 'calico',
      ipam: { type: 'whereabouts' },
      dataplane_options: { network_name: 'blue' },
    });
  const env = (cmd: string, id: string, extra: Record<string, string> = {}) => ({
    PATH: process.env.PATH ?? '',
    CNI_COMMAND: cmd,
    CNI_CONTAINERID: id,
    CNI_NETNS: '/var/run/netns/none',
    CNI_IFNAME: 'eth1',
    CNI_PATH: '/usr/lib/cni',
    MULTINET_CNI_SOCKET: sock,
    ...extra,
  });

  for (const v of ['0.3.1', '0.4.0', '1.0.0', '1.1.0']) {
    test(`ADD, DEL and errors print what the Node plugin prints (cniVersion ${v})`, async () => {
      // Addresses and MACs come from the fake agent's counter: compare everything else.
      const shape = (out: string): unknown =>
        out
          ? JSON.parse(
              out
                .replace(/"(\d+\.){3}\d+(\/\d+)?"/g, '"IP"')
                .replace(/"([0-9a-f]{2}:){5}[0-9a-f]{2}"/g, '"MAC"'),
            )
          : null;
      for (const [cmd, id, extra] of [
        ['ADD', `s-${v}`, {}],
        ['DEL', `s-${v}`, {}],
        ['DEL', `s-${v}`, {}],
        ['ADD', 'bad/id', {}],
        ['ADD', `s2-${v}`, { CNI_IFNAME: 'way-too-long-interface-name' }],
      ] as const) {
        const viaShim = await runProcess(SHIM, [], env(cmd, id, extra), conf(v));
        if (cmd === 'ADD' && viaShim.code === 0) await runProcess(SHIM, [], env('DEL', id, extra), conf(v));
        const viaNode = await runProcess(process.execPath, [bundle], env(cmd, id, extra), conf(v));
        if (cmd === 'ADD' && viaNode.code === 0) await runProcess(SHIM, [], env('DEL', id, extra), conf(v));
        assert.equal(viaShim.code, viaNode.code, `${cmd} ${id}: ${viaShim.stdout} vs ${viaNode.stdout}`);
        assert.deepEqual(shape(viaShim.stdout), shape(viaNode.stdout), `${cmd} ${id}`);
      }
      assert.equal(handler.attachments.size, 0, 'every ADD was undone by its DEL');
    });
  }

  test('VERSION works without an agent; ADD with no agent is error 11 and changes nothing', async () => {
    const v = await runProcess(SHIM, [], { CNI_COMMAND: 'VERSION' }, '{"cniVersion":"1.0.0"}');
    assert.equal(v.code, 0);
    assert.deepEqual(JSON.parse(v.stdout).supportedVersions, ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']);
    const before = handler.attachments.size;
    const r = await runProcess(
      SHIM,
      [],
      env('ADD', 'nobody', { MULTINET_CNI_SOCKET: join(dir, 'absent.sock') }),
      conf('1.0.0'),
    );
    assert.equal(r.code, 11);
    assert.equal(JSON.parse(r.stdout).code, 11);
    assert.equal(handler.attachments.size, before);
  });
});
