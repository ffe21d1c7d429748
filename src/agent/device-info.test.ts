// memif device-info (CNIDeviceInfoFile capability): written on ADD of a memif, in the spec's form,
// removed on DEL; a bad path refused up front; a failed write undoes the ADD; kernel interfaces
// write nothing. The real file writer too (atomic, mode 0600).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CniRequest } from '../cni/protocol.js';
import { blueNetwork, blueRequest } from '../testing/agent-fixtures.js';
import { CniError } from '../cni/spec.js';
import { MemoryStore } from '../store/memory.js';
import { silentLogger } from '../util/log.js';
import { AttachmentService } from './attach.js';
import { ClusterCache, KIND_NETWORK } from './cache.js';
import { deviceInfoPath, FakeDeviceInfoFiles, FsDeviceInfoFiles, memifDeviceInfo } from './device-info.js';
import { KIND_ATTACHMENT } from '../calc/records.js';

const PATH = '/var/run/k8s.cni.cncf.io/devinfo/cni/network-blue-cid_memif1';

function req(ifName: string, runtimeConfig?: Record<string, unknown>): CniRequest {
  const r = blueRequest('ADD', 'p', { ifName });
  return runtimeConfig
    ? { ...r, containerId: 'cid', netConf: { ...r.netConf, runtimeConfig } }
    : { ...r, containerId: 'cid' };
}

async function setup() {
  const store = new MemoryStore();
  await store.create({ kind: KIND_NETWORK, namespace: '', name: 'blue' }, blueNetwork());
  const cache = new ClusterCache();
  cache.replace(KIND_NETWORK, (await store.list(KIND_NETWORK)).items);
  const files = new FakeDeviceInfoFiles();
  const released: string[] = [];
  const svc = new AttachmentService({
    node: 'n1',
    store,
    cache,
    ipam: {
      allocate: async () => ['172.19.0.2'],
      release: async (r) => void released.push(r.ifName),
    },
    sync: async () => ({ changes: 0, failed: 0, errors: [], processes: 0, batches: 0, durationMs: 0 }),
    inspectPod: async () => undefined,
    log: silentLogger,
    memif: true,
    removeMemifLink: async () => undefined,
    deviceInfo: files,
  });
  return { svc, store, files, released };
}
const ctx = { signal: new AbortController().signal };

describe('memif device-info', () => {
  test('ADD of a memif writes the spec form where the runtime asked; DEL removes it', async () => {
    const { svc, files } = await setup();
    await svc.add(req('memif1', { CNIDeviceInfoFile: PATH }), ctx);
    assert.deepEqual(files.files.get(PATH), {
      type: 'memif',
      version: '1.1.0',
      memif: { role: 'slave', path: '@memif1', mode: 'ethernet' },
    });
    await svc.add(req('memif1', { CNIDeviceInfoFile: PATH }), ctx); // idempotent ADD: same file
    assert.equal(files.files.size, 1);
    await svc.del({ ...req('memif1', { CNIDeviceInfoFile: PATH }), command: 'DEL' }, ctx);
    assert.equal(files.files.size, 0);
  });

  test('a kernel interface writes none; no path asked, none written', async () => {
    const { svc, files } = await setup();
    await svc.add(req('eth1', { CNIDeviceInfoFile: PATH }), ctx);
    await svc.add({ ...req('memif2'), containerId: 'c2' }, ctx);
    assert.equal(files.files.size, 0);
  });

  test('a relative or ".." path is refused before anything is allocated', async () => {
    const { svc, store } = await setup();
    for (const bad of ['devinfo/x', '/var/run/../etc/passwd', 7]) {
      await assert.rejects(svc.add(req('memif1', { CNIDeviceInfoFile: bad }), ctx), (e: unknown) => {
        assert.ok(e instanceof CniError);
        assert.match(e.details ?? '', /runtimeConfig\.CNIDeviceInfoFile .*absolute path/);
        return true;
      });
    }
    assert.equal((await store.list(KIND_ATTACHMENT)).items.length, 0);
  });

  test('a failed write fails the ADD and undoes it: no record, addresses released', async () => {
    const { svc, store, files, released } = await setup();
    files.failWrites = true;
    await assert.rejects(svc.add(req('memif1', { CNIDeviceInfoFile: PATH }), ctx), /device-info not written/);
    assert.equal((await store.list(KIND_ATTACHMENT)).items.length, 0);
    assert.deepEqual(released, ['memif1']);
  });

  test('pure parts: the IP-mode form; the path check', () => {
    assert.equal(memifDeviceInfo('memif3', 'ip').memif.mode, 'ip');
    assert.equal(deviceInfoPath(req('memif1')), undefined);
    assert.equal(deviceInfoPath(req('memif1', { CNIDeviceInfoFile: PATH })), PATH);
  });

  test('the real files: written whole with mode 0600 (folders made), removed, removing twice is fine', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mn-devinfo-'));
    try {
      const f = new FsDeviceInfoFiles();
      const p = join(dir, 'devinfo', 'cni', 'x-cid_memif1');
      await f.write(p, memifDeviceInfo('memif1', 'ethernet'));
      assert.deepEqual(JSON.parse(readFileSync(p, 'utf8')), memifDeviceInfo('memif1', 'ethernet'));
      assert.equal(statSync(p).mode & 0o777, 0o600);
      await f.remove(p);
      await f.remove(p);
      assert.equal(existsSync(p), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
