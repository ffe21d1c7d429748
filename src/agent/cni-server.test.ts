import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { callAgent } from '../cni/agent-client.js';
import { CniError, ErrorCode } from '../cni/spec.js';
import { FakeCniHandler } from './cni-fake-handler.js';
import { PROTOCOL_VERSION, type CniRequest } from '../cni/protocol.js';
import { startCniServer } from './cni-server.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'mn-cnisrv-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function req(command: CniRequest['command'], extra: Partial<CniRequest> = {}): CniRequest {
  return {
    protocol: PROTOCOL_VERSION,
    command,
    containerId: 'c1',
    netns: '/var/run/netns/x',
    ifName: 'eth1',
    args: { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: 'p' },
    netConf: {
      cniVersion: '1.0.0',
      name: 'net-blue',
      type: 'calico',
      dataplane_options: { network_name: 'blue' },
    },
    ipam: 'agent',
    ...extra,
  };
}

/** Sends one raw line, returns the raw answer line. */
function raw(path: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let buf = '';
    s.on('connect', () => s.write(line));
    s.on('data', (d) => (buf += d.toString()));
    s.on('close', () => resolve(buf));
    s.on('error', reject);
  });
}

describe('startCniServer', () => {
  test('socket is 0600 and answers ADD, then is removed on close', async () => {
    const path = join(dir, 'sub', 'a.sock');
    const h = new FakeCniHandler();
    const srv = await startCniServer(path, h);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const r = await callAgent(path, req('ADD'), 5000);
    assert.equal(r?.interfaces?.[0]?.name, 'eth1');
    assert.equal(h.attachments.size, 1);
    assert.equal(h.calls[0]?.args.K8S_POD_NAME, 'p');
    await srv.close();
    assert.equal(existsSync(path), false);
  });

  test('a stale socket file of a dead agent is replaced', async () => {
    const path = join(dir, 'stale.sock');
    // A crashed agent: a process listening on the path, killed with SIGKILL, leaves the file behind.
    const r = spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    assert.equal(r.signal, 'SIGKILL');
    assert.ok(statSync(path).isSocket(), 'orphan socket file exists');
    const srv = await startCniServer(path, new FakeCniHandler());
    assert.equal(await callAgent(path, req('DEL'), 5000), null);
    await srv.close();
  });

  test('a live socket is not stolen, a regular file is not removed', async () => {
    const path = join(dir, 'live.sock');
    const first = await startCniServer(path, new FakeCniHandler());
    await assert.rejects(startCniServer(path, new FakeCniHandler()), /in use/);
    await first.close();
    const file = join(dir, 'file.sock');
    writeFileSync(file, 'x');
    await assert.rejects(startCniServer(file, new FakeCniHandler()), /not a socket/);
    assert.ok(existsSync(file));
  });

  test('handler errors: CniError passes through, other errors become code 100', async () => {
    const path = join(dir, 'err.sock');
    const h = new FakeCniHandler();
    const srv = await startCniServer(path, h);
    try {
      h.failNext('ADD', new CniError(ErrorCode.ContainerUnknown, 'no such netns', '/var/run/netns/x'));
      await assert.rejects(
        callAgent(path, req('ADD'), 5000),
        (e: CniError) => e.code === 3 && e.details === '/var/run/netns/x',
      );
      h.failNext('DEL', new Error('boom'));
      await assert.rejects(
        callAgent(path, req('DEL'), 5000),
        (e: CniError) => e.code === 100 && /boom/.test(e.details),
      );
    } finally {
      await srv.close();
    }
  });

  test('malformed requests get a decoding error naming the problem', async () => {
    const path = join(dir, 'bad.sock');
    const srv = await startCniServer(path, new FakeCniHandler());
    try {
      const a = JSON.parse(await raw(path, 'not json\n'));
      assert.equal(a.error.code, ErrorCode.DecodingFailure);
      const b = JSON.parse(await raw(path, JSON.stringify({ ...req('ADD'), protocol: 99 }) + '\n'));
      assert.match(b.error.details, /protocol 99/);
      const c = JSON.parse(await raw(path, JSON.stringify({ ...req('ADD'), command: 'FOO' }) + '\n'));
      assert.match(c.error.details, /FOO/);
    } finally {
      await srv.close();
    }
  });

  test('an ADD finishing after the plugin timed out is undone', async () => {
    const path = join(dir, 'slow.sock');
    // The ADD completes only after the plugin has given up (gated, so no timing races).
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const h = new FakeCniHandler({ onAdd: () => gate });
    const srv = await startCniServer(path, h);
    try {
      await assert.rejects(
        callAgent(path, req('ADD'), 300),
        (e: CniError) => e.code === ErrorCode.TryAgainLater && /no answer/.test(e.details),
      );
      release();
      for (let i = 0; i < 100 && h.calls.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(h.attachments.size, 0, 'abandoned ADD rolled back');
      assert.deepEqual(
        h.calls.map((c) => c.command),
        ['ADD', 'DEL'],
      );
    } finally {
      await srv.close();
    }
  });

  test('an ADD result the plugin read but never acknowledged is undone', async () => {
    const path = join(dir, 'noack.sock');
    const h = new FakeCniHandler();
    const srv = await startCniServer(path, h);
    try {
      const answer = await new Promise<string>((resolve, reject) => {
        const s = connect(path);
        s.on('connect', () => s.write(JSON.stringify(req('ADD')) + '\n'));
        s.on('data', (d) => {
          s.destroy(); // e.g. killed by the runtime right then
          resolve(d.toString());
        });
        s.on('error', reject);
      });
      assert.ok(JSON.parse(answer).result);
      for (let i = 0; i < 100 && h.calls.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(
        h.calls.map((c) => c.command),
        ['ADD', 'DEL'],
      );
      assert.equal(h.attachments.size, 0);
    } finally {
      await srv.close();
    }
  });

  test('a shim ADD answer read but never acknowledged is undone', async () => {
    const path = join(dir, 'shimnoack.sock');
    const h = new FakeCniHandler();
    const srv = await startCniServer(path, h);
    try {
      const shimReq = {
        shim: 1,
        env: {
          CNI_COMMAND: 'ADD',
          CNI_CONTAINERID: 'c1',
          CNI_NETNS: '/var/run/netns/x',
          CNI_IFNAME: 'eth1',
          CNI_PATH: '/usr/lib/cni',
          MULTINET_CNI_SOCKET: path,
        },
        stdin: JSON.stringify(req('ADD').netConf),
      };
      const answer = await new Promise<string>((resolve, reject) => {
        const s = connect(path);
        let buf = '';
        s.on('connect', () => s.write(JSON.stringify(shimReq) + '\n'));
        s.on('data', (d) => {
          buf += d.toString();
          const nl = buf.indexOf('\n');
          if (nl < 0 || Buffer.byteLength(buf.slice(nl + 1)) < Number(buf.slice(0, nl).split(' ')[1])) return;
          s.destroy(); // the shim died before it acked
          resolve(buf);
        });
        s.on('error', reject);
      });
      assert.match(answer, /^0 \d+\n\{"cniVersion":"1\.0\.0"/);
      for (let i = 0; i < 100 && h.calls.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(
        h.calls.map((c) => c.command),
        ['ADD', 'DEL'],
      );
      assert.equal(h.attachments.size, 0);
    } finally {
      await srv.close();
    }
  });

  test('client: no socket or no listener is error 11 with the path', async () => {
    const path = join(dir, 'none.sock');
    await assert.rejects(
      callAgent(path, req('ADD'), 1000),
      (e: CniError) => e.code === 11 && e.details.includes(path),
    );
  });
});
