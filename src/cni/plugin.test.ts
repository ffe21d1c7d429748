// Spec conformance of the dispatcher, in process, against a fake agent on a real unix socket.
import { test, describe, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeCniHandler } from '../agent/cni-fake-handler.js';
import { startCniServer, type CniServer } from '../agent/cni-server.js';
import type { PluginExec } from './delegate.js';
import { callAgent, type AgentCall } from './agent-client.js';
import type { CniResult100 } from './result.js';
import { runPlugin, type PluginOutput } from './plugin.js';
import { CniError, SUPPORTED_VERSIONS } from './spec.js';

// Parsed JSON output, read field by field in assertions.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
const NETNS = '/var/run/netns/mn-fake';

let dir: string;
let sock: string;
let handler: FakeCniHandler;
let server: CniServer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mn-cniplug-'));
  sock = join(dir, 'cni.sock');
  server = await startCniServer(sock, {
    add: (r, c) => handler.add(r, c),
    del: (r, c) => handler.del(r, c),
    check: (r, c) => handler.check(r, c),
    status: (r, c) => handler.status(r, c),
    gc: (r, c) => handler.gc(r, c),
  });
  // A stand-in IPAM executable for the faked exec (findPlugin checks it is executable).
  writeFileSync(join(dir, 'fakeipam'), '#!/bin/false\n');
  chmodSync(join(dir, 'fakeipam'), 0o755);
});
after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  handler = new FakeCniHandler();
});

function env(
  command: string,
  extra: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  return {
    CNI_COMMAND: command,
    CNI_CONTAINERID: 'ctr-1',
    CNI_NETNS: NETNS,
    CNI_IFNAME: 'eth1',
    CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=samplepod;K8S_POD_UID=u-1',
    CNI_PATH: `${dir}:/usr/lib/cni`,
    MULTINET_CNI_SOCKET: sock,
    ...extra,
  };
}

/** The seed's NAD plugin config, as written. */
function seedConf(cniVersion: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cniVersion,
    name: 'network-blue',
    type: 'calico',
    ipam: { type: 'whereabouts' },
    dataplane_options: { network_name: 'blue' },
    ...extra,
  };
}

async function run(
  e: Record<string, string | undefined>,
  conf: unknown,
  exec?: PluginExec,
): Promise<PluginOutput & { json: Json }> {
  const out = await runPlugin({
    env: e,
    stdin: typeof conf === 'string' ? conf : JSON.stringify(conf),
    ...(exec ? { exec } : {}),
  });
  return { ...out, json: out.stdout.trim() ? JSON.parse(out.stdout) : undefined };
}

function assertError(out: PluginOutput & { json: Json }, code: number, re?: RegExp): void {
  assert.equal(out.json?.code, code, `expected error ${code}, got ${out.stdout}`);
  assert.equal(out.exitCode, code);
  assert.equal(typeof out.json.msg, 'string');
  if (re) assert.match(`${out.json.msg} ${out.json.details ?? ''}`, re);
}

for (const v of VERSIONS) {
  const old = v.startsWith('0.');
  describe(`spec ${v}`, () => {
    test('ADD prints the result in the requested version', async () => {
      const out = await run(env('ADD'), seedConf(v));
      assert.equal(out.exitCode, 0, out.stdout);
      assert.equal(out.json.cniVersion, v);
      assert.deepEqual(out.json.interfaces, [{ name: 'eth1', mac: '02:00:00:00:00:01', sandbox: NETNS }]);
      assert.equal(out.json.ips.length, 1);
      const ip = out.json.ips[0];
      assert.equal(ip.address, '10.99.0.2/24');
      assert.equal(ip.interface, 0);
      if (old) assert.equal(ip.version, '4');
      else assert.equal('version' in ip, false);
      // The agent got the pod identity and the network.
      const req = handler.calls[0]!;
      assert.equal(req.args.K8S_POD_NAME, 'samplepod');
      assert.equal(req.netConf.dataplane_options?.network_name, 'blue');
      assert.equal(req.ipam, 'agent');
    });

    test('ADD after earlier plugins keeps their result and appends ours', async () => {
      const prevResult = {
        cniVersion: v,
        interfaces: [
          { name: 'cali0', mac: '02:11:11:11:11:11' },
          { name: 'eth0', sandbox: NETNS },
        ],
        ips: [{ ...(old ? { version: '4' } : {}), address: '192.168.5.2/24', interface: 1 }],
        routes: [{ dst: '0.0.0.0/0', gw: '192.168.5.1' }],
        dns: { nameservers: ['10.96.0.10'] },
      };
      const out = await run(env('ADD'), seedConf(v, { prevResult }));
      assert.equal(out.exitCode, 0, out.stdout);
      assert.deepEqual(
        out.json.interfaces.map((i: { name: string }) => i.name),
        ['cali0', 'eth0', 'eth1'],
      );
      assert.deepEqual(
        out.json.ips.map((i: { interface: number }) => i.interface),
        [1, 2],
      );
      assert.deepEqual(out.json.routes, [{ dst: '0.0.0.0/0', gw: '192.168.5.1' }]);
      assert.deepEqual(out.json.dns, { nameservers: ['10.96.0.10'] });
      // The agent sees prevResult in the 1.x shape whatever the version.
      assert.equal(handler.calls[0]!.netConf.prevResult?.ips?.[0]?.address, '192.168.5.2/24');
      assert.equal('version' in (handler.calls[0]!.netConf.prevResult?.ips?.[0] ?? {}), false);
    });

    test('DEL is idempotent and prints nothing', async () => {
      await run(env('ADD'), seedConf(v));
      for (let i = 0; i < 2; i++) {
        const out = await run(env('DEL'), seedConf(v));
        assert.deepEqual([out.exitCode, out.stdout], [0, '']);
      }
      // DEL without netns (the runtime may have removed it) is allowed.
      const out = await run(env('DEL', { CNI_NETNS: undefined }), seedConf(v));
      assert.deepEqual([out.exitCode, out.stdout], [0, '']);
      assert.equal(handler.attachments.size, 0);
    });

    test('CHECK', async () => {
      const add = await run(env('ADD'), seedConf(v));
      const out = await run(env('CHECK'), seedConf(v, { prevResult: add.json }));
      if (v === '0.3.0' || v === '0.3.1') {
        assertError(out, 1, /CHECK/);
        return;
      }
      assert.deepEqual([out.exitCode, out.stdout], [0, '']);
      assertError(await run(env('CHECK'), seedConf(v)), 7, /prevResult/);
      await run(env('DEL'), seedConf(v));
      assertError(await run(env('CHECK'), seedConf(v, { prevResult: add.json })), 3);
    });

    test('VERSION answers in the config version', async () => {
      const out = await run({ CNI_COMMAND: 'VERSION' }, { cniVersion: v });
      assert.equal(out.exitCode, 0);
      assert.deepEqual(out.json, { cniVersion: v, supportedVersions: [...SUPPORTED_VERSIONS] });
    });

    test('agent errors pass through with their code', async () => {
      handler.failNext('ADD', new CniError(3, 'netns not found', NETNS));
      const out = await run(env('ADD'), seedConf(v));
      assertError(out, 3, /netns not found/);
      assert.equal(out.json.cniVersion, v);
    });
  });
}

describe('environment', () => {
  const conf = seedConf('1.0.0');
  test('missing required variables are named (error 4)', async () => {
    assertError(await run(env('ADD', { CNI_NETNS: undefined }), conf), 4, /CNI_NETNS/);
    assertError(await run(env('CHECK', { CNI_IFNAME: '' }), conf), 4, /CNI_IFNAME/);
    assertError(await run(env('DEL', { CNI_CONTAINERID: undefined }), conf), 4, /CNI_CONTAINERID/);
    assertError(await run(env('GC', { CNI_PATH: undefined }), conf), 4, /CNI_PATH/);
    assertError(await run(env('', {}), conf), 4, /CNI_COMMAND/);
    assertError(await run(env('FROB'), conf), 4, /unknown CNI_COMMAND: FROB/);
    assert.equal(handler.calls.length, 0);
  });

  test('invalid CNI_IFNAME and CNI_CONTAINERID are refused before anything else', async () => {
    for (const bad of ['a/b', 'has space', '.', '..', 'x'.repeat(16), 'eth:1'])
      assertError(await run(env('ADD', { CNI_IFNAME: bad }), 'not even json'), 4, /CNI_IFNAME/);
    for (const bad of ['-lead', '_x', 'a/b', 'a b', 'ä'])
      assertError(await run(env('ADD', { CNI_CONTAINERID: bad }), 'not even json'), 4, /CNI_CONTAINERID/);
    assert.equal(handler.calls.length, 0);
    const ok = await run(env('ADD', { CNI_IFNAME: 'x'.repeat(15), CNI_CONTAINERID: 'A1_b.c-d' }), conf);
    assert.equal(ok.exitCode, 0, ok.stdout);
  });

  test('CNI_ARGS is parsed; a malformed pair is error 4', async () => {
    assertError(await run(env('ADD', { CNI_ARGS: 'K8S_POD_NAME' }), conf), 4, /CNI_ARGS/);
    const out = await run(env('ADD', { CNI_ARGS: 'A=1;B=x=y;;' }), conf);
    assert.equal(out.exitCode, 0);
    assert.deepEqual(handler.calls[0]!.args, { A: '1', B: 'x=y' });
  });

  test('interface names beginning with memif go to the agent like any other', async () => {
    const out = await run(env('ADD', { CNI_IFNAME: 'memif1' }), conf);
    assert.equal(out.exitCode, 0);
    assert.equal(handler.calls[0]!.ifName, 'memif1');
  });
});

describe('network config', () => {
  test('errors: decoding 6, version 1, invalid 7', async () => {
    assertError(await run(env('ADD'), '{"cniVersion":'), 6);
    assertError(await run(env('ADD'), '[]'), 6);
    assertError(await run(env('ADD'), seedConf('0.2.0')), 1, /0\.2\.0/);
    assertError(await run(env('ADD'), { ...seedConf('1.0.0'), cniVersion: undefined }), 1, /0\.1\.0/);
    assertError(await run(env('ADD'), seedConf('1.0.0', { name: 'bad name' })), 7, /name/);
    assertError(await run(env('ADD'), seedConf('1.0.0', { dataplane_options: {} })), 7, /network_name/);
    assertError(
      await run(env('ADD'), seedConf('1.0.0', { ipam: { type: '../../bin/sh' } })),
      7,
      /ipam\.type/,
    );
    assertError(
      await run(env('ADD'), seedConf('1.0.0', { ipam: { type: 'nonexistent-ipam' } })),
      7,
      /not found/,
    );
    assertError(
      await run(env('ADD'), seedConf('1.0.0', { prevResult: { ips: [{ address: '10.0.0.1' }] } })),
      6,
      /prevResult/,
    );
    assert.equal(handler.calls.length, 0);
  });

  test('our own type name and a config without ipam are accepted', async () => {
    const out = await run(env('ADD'), {
      cniVersion: '1.1.0',
      name: 'n1',
      type: 'multinet',
      dataplane_options: { network_name: 'red' },
    });
    assert.equal(out.exitCode, 0, out.stdout);
    assert.equal(handler.calls[0]!.ipam, 'none');
    assert.deepEqual(out.json.ips, []);
  });

  test('socket path from config when the environment does not set one', async () => {
    const e = env('ADD', { MULTINET_CNI_SOCKET: undefined });
    assert.equal(
      (await run(e, seedConf('1.0.0', { dataplane_options: { network_name: 'blue', agent_socket: sock } })))
        .exitCode,
      0,
    );
    assert.equal((await run(e, seedConf('1.0.0', { agentSocket: sock }))).exitCode, 0);
    assertError(await run(e, seedConf('1.0.0', { agentSocket: 'rel.sock' })), 7, /absolute/);
  });
});

describe('agent down', () => {
  const down = () => env('ADD', { MULTINET_CNI_SOCKET: join(dir, 'nobody.sock') });
  test('ADD, DEL, GC: error 11 with the socket path; STATUS: error 50', async () => {
    for (const cmd of ['ADD', 'DEL', 'GC'])
      assertError(await run({ ...down(), CNI_COMMAND: cmd }, seedConf('1.1.0')), 11, /nobody\.sock/);
    assertError(await run({ ...down(), CNI_COMMAND: 'STATUS' }, seedConf('1.1.0')), 50, /nobody\.sock/);
  });
});

describe('STATUS and GC', () => {
  test('STATUS follows the agent', async () => {
    const ok = await run({ CNI_COMMAND: 'STATUS', MULTINET_CNI_SOCKET: sock }, seedConf('1.1.0'));
    assert.deepEqual([ok.exitCode, ok.stdout], [0, '']);
    handler.available = false;
    assertError(await run({ CNI_COMMAND: 'STATUS', MULTINET_CNI_SOCKET: sock }, seedConf('1.1.0')), 50);
  });

  test('GC passes the valid attachments; the others are removed', async () => {
    await run(env('ADD', { CNI_CONTAINERID: 'keep' }), seedConf('1.1.0'));
    await run(env('ADD', { CNI_CONTAINERID: 'gone' }), seedConf('1.1.0'));
    const out = await run(
      { CNI_COMMAND: 'GC', CNI_PATH: '/usr/lib/cni', MULTINET_CNI_SOCKET: sock },
      seedConf('1.1.0', { 'cni.dev/valid-attachments': [{ containerID: 'keep', ifname: 'eth1' }] }),
    );
    assert.deepEqual([out.exitCode, out.stdout], [0, '']);
    assert.deepEqual([...handler.attachments.keys()], ['keep/eth1']);
    assert.deepEqual(handler.calls.at(-1)!.validAttachments, [{ containerId: 'keep', ifName: 'eth1' }]);
  });
});

describe('delegated IPAM (faked plugin)', () => {
  const ipamConf = (v = '1.0.0') =>
    seedConf(v, { ipam: { type: 'fakeipam', addresses: [{ address: '10.7.0.5/24' }] } });
  function fakeIpam(opts: { maxVersion?: string } = {}) {
    const calls: { cmd: string; conf: Json; env: Record<string, string> }[] = [];
    const exec: PluginExec = async (path, e, stdin) => {
      assert.equal(path, join(dir, 'fakeipam'));
      const conf = JSON.parse(stdin);
      calls.push({ cmd: e.CNI_COMMAND!, conf, env: { ...e } });
      const supported = ['0.3.1', '0.4.0', '1.0.0', ...(opts.maxVersion ? [] : ['1.1.0'])];
      if (e.CNI_COMMAND === 'VERSION')
        return {
          code: 0,
          stdout: JSON.stringify({ cniVersion: conf.cniVersion, supportedVersions: supported }),
          stderr: '',
        };
      if (!supported.includes(conf.cniVersion))
        return { code: 1, stdout: JSON.stringify({ code: 1, msg: 'incompatible CNI versions' }), stderr: '' };
      if (e.CNI_COMMAND === 'ADD')
        return {
          code: 0,
          stdout: JSON.stringify({
            cniVersion: conf.cniVersion,
            ips: [
              {
                ...(conf.cniVersion.startsWith('0.') ? { version: '4' } : {}),
                address: '10.7.0.5/24',
                gateway: '10.7.0.1',
              },
            ],
            dns: {},
          }),
          stderr: '',
        };
      return { code: 0, stdout: '', stderr: '' };
    };
    return { calls, exec };
  }

  test('ADD runs the plugin with the same env and config; the agent gets its addresses', async () => {
    const f = fakeIpam();
    const out = await run(env('ADD'), ipamConf(), f.exec);
    assert.equal(out.exitCode, 0, out.stdout);
    assert.deepEqual(
      f.calls.map((c) => c.cmd),
      ['ADD'],
    );
    assert.deepEqual(f.calls[0]!.conf, ipamConf());
    assert.equal(f.calls[0]!.env.CNI_CONTAINERID, 'ctr-1');
    assert.equal(f.calls[0]!.env.CNI_IFNAME, 'eth1');
    assert.equal(handler.calls[0]!.ipam, 'delegated');
    assert.equal(handler.calls[0]!.ipamResult?.ips?.[0]?.address, '10.7.0.5/24');
    assert.deepEqual(out.json.ips, [{ address: '10.7.0.5/24', gateway: '10.7.0.1', interface: 0 }]);
  });

  test('agent failure after allocation releases the address (IPAM DEL)', async () => {
    const f = fakeIpam();
    handler.failNext('ADD', new Error('link creation failed'));
    assertError(await run(env('ADD'), ipamConf(), f.exec), 100, /link creation failed/);
    assert.deepEqual(
      f.calls.map((c) => c.cmd),
      ['ADD', 'DEL'],
    );
    const f2 = fakeIpam();
    assertError(
      await run(env('ADD', { MULTINET_CNI_SOCKET: join(dir, 'nobody.sock') }), ipamConf(), f2.exec),
      11,
    );
    assert.deepEqual(
      f2.calls.map((c) => c.cmd),
      ['ADD', 'DEL'],
    );
  });

  test('an agent answer that is not a valid result is undone on both sides', async () => {
    const f = fakeIpam();
    // The (fake) agent really attaches, but its answer arrives mangled.
    const bad: AgentCall = async (path, r, t) => {
      const real = await callAgent(path, r, t);
      return r.command === 'ADD'
        ? ({ cniVersion: '1.0.0', ips: [{ address: 'nope' }] } as CniResult100)
        : real;
    };
    const out = await runPlugin({
      env: env('ADD'),
      stdin: JSON.stringify(ipamConf()),
      exec: f.exec,
      agent: bad,
    });
    assert.equal(out.exitCode, 6, out.stdout);
    assert.deepEqual(
      f.calls.map((c) => c.cmd),
      ['ADD', 'DEL'],
    );
    assert.equal(handler.attachments.size, 0, 'agent DEL sent');
  });

  test('DEL: agent first, then IPAM DEL, even when the agent had nothing; agent down releases nothing', async () => {
    const f = fakeIpam();
    assert.equal((await run(env('DEL'), ipamConf(), f.exec)).exitCode, 0);
    assert.deepEqual(
      f.calls.map((c) => c.cmd),
      ['DEL'],
    );
    const f2 = fakeIpam();
    assertError(
      await run(env('DEL', { MULTINET_CNI_SOCKET: join(dir, 'nobody.sock') }), ipamConf(), f2.exec),
      11,
    );
    assert.deepEqual(f2.calls, []);
  });

  test('a plugin that stops at 1.0.0 is run at 1.0.0 for a 1.1.0 config; result converted back', async () => {
    const f = fakeIpam({ maxVersion: '1.0.0' });
    const out = await run(env('ADD'), ipamConf('1.1.0'), f.exec);
    assert.equal(out.exitCode, 0, out.stdout);
    assert.deepEqual(
      f.calls.map((c) => `${c.cmd}@${c.conf.cniVersion}`),
      ['ADD@1.1.0', 'VERSION@1.1.0', 'ADD@1.0.0'],
    );
    assert.equal(out.json.cniVersion, '1.1.0');
    // STATUS/GC are not sent to a delegate that does not speak 1.1.0.
    const f2 = fakeIpam({ maxVersion: '1.0.0' });
    assert.equal(
      (
        await run(
          { CNI_COMMAND: 'STATUS', CNI_PATH: dir, MULTINET_CNI_SOCKET: sock },
          ipamConf('1.1.0'),
          f2.exec,
        )
      ).exitCode,
      0,
    );
    assert.deepEqual(
      f2.calls.map((c) => c.cmd),
      ['VERSION'],
    );
    const f3 = fakeIpam();
    assert.equal(
      (await run({ CNI_COMMAND: 'GC', CNI_PATH: dir, MULTINET_CNI_SOCKET: sock }, ipamConf('1.1.0'), f3.exec))
        .exitCode,
      0,
    );
    assert.deepEqual(
      f3.calls.map((c) => c.cmd),
      ['VERSION', 'GC'],
    );
  });

  test("the plugin's own error is reported with its code", async () => {
    const exec: PluginExec = async () => ({
      code: 1,
      stdout: JSON.stringify({ code: 7, msg: 'no addresses configured' }),
      stderr: '',
    });
    assertError(await run(env('ADD'), ipamConf(), exec), 7, /fakeipam.*ADD|no addresses/);
    const crash: PluginExec = async () => ({ code: 2, stdout: '', stderr: 'panic: nil map' });
    assertError(await run(env('ADD'), ipamConf(), crash), 101, /panic: nil map/);
    assert.equal(handler.calls.length, 0);
  });
});

describe('"delegateIpam": true: the real Whereabouts instead of ours', () => {
  const wbConf = (delegateIpam?: unknown) =>
    seedConf('1.0.0', {
      ipam: { type: 'whereabouts', range: '10.88.0.0/24', kubernetes: { kubeconfig: '/k/wb.kubeconfig' } },
      ...(delegateIpam === undefined ? {} : { delegateIpam }),
    });
  const calls: { path: string; cmd: string; conf: Json }[] = [];
  const exec: PluginExec = async (path, e, stdin) => {
    calls.push({ path, cmd: e.CNI_COMMAND!, conf: JSON.parse(stdin) });
    return e.CNI_COMMAND === 'ADD'
      ? {
          code: 0,
          stdout: JSON.stringify({ cniVersion: '1.0.0', ips: [{ address: '10.88.0.1/24' }] }),
          stderr: '',
        }
      : { code: 0, stdout: '', stderr: '' };
  };
  beforeEach(() => {
    calls.length = 0;
    writeFileSync(join(dir, 'whereabouts'), '#!/bin/false\n');
    chmodSync(join(dir, 'whereabouts'), 0o755);
  });

  test('with it, ipam type whereabouts is run from CNI_PATH with the config as received', async () => {
    const out = await run(env('ADD'), wbConf(true), exec);
    assert.equal(out.exitCode, 0, out.stdout);
    assert.deepEqual(
      calls.map((c) => [c.path, c.cmd]),
      [[join(dir, 'whereabouts'), 'ADD']],
    );
    assert.deepEqual(calls[0]!.conf, wbConf(true));
    assert.equal(handler.calls[0]!.ipam, 'delegated');
    assert.equal(handler.calls[0]!.ipamResult?.ips?.[0]?.address, '10.88.0.1/24');
    const del = await run({ ...env('DEL') }, wbConf(true), exec);
    assert.equal(del.exitCode, 0, del.stdout);
    assert.deepEqual(
      calls.map((c) => c.cmd),
      ['ADD', 'DEL'],
    );
  });

  test("without it (or false), whereabouts is the agent's IPAM and nothing is run", async () => {
    for (const conf of [wbConf(), wbConf(false)]) {
      handler = new FakeCniHandler();
      const out = await run(env('ADD'), conf, exec);
      assert.equal(out.exitCode, 0, out.stdout);
      assert.equal(handler.calls[0]!.ipam, 'agent');
    }
    assert.equal(calls.length, 0);
  });

  test('a value other than true or false is an invalid config (7)', async () => {
    assertError(await run(env('ADD'), wbConf('yes'), exec), 7, /delegateIpam/);
    assert.equal(calls.length, 0);
  });
});

describe('delegated IPAM: the reference static plugin', () => {
  const STATIC = '/usr/lib/cni/static';
  for (const v of ['0.4.0', '1.0.0', '1.1.0']) {
    test(`ADD and DEL at ${v}`, async (t) => {
      if (!existsSync(STATIC))
        return t.skip(`${STATIC} missing (Debian package containernetworking-plugins)`);
      const conf = seedConf(v, {
        ipam: {
          type: 'static',
          addresses: [{ address: '10.77.0.9/24', gateway: '10.77.0.1' }],
          routes: [{ dst: '10.78.0.0/16' }],
          dns: { nameservers: ['10.77.0.53'] },
        },
      });
      const e = env('ADD', { CNI_PATH: '/usr/lib/cni' });
      const out = await run(e, conf);
      assert.equal(out.exitCode, 0, out.stdout);
      assert.equal(out.json.cniVersion, v);
      assert.equal(out.json.ips[0].address, '10.77.0.9/24');
      assert.equal(out.json.ips[0].gateway, '10.77.0.1');
      assert.deepEqual(out.json.routes, [{ dst: '10.78.0.0/16' }]);
      assert.deepEqual(out.json.dns.nameservers, ['10.77.0.53']);
      assert.equal(handler.calls[0]!.ipamResult?.ips?.[0]?.address, '10.77.0.9/24');
      const del = await run({ ...e, CNI_COMMAND: 'DEL' }, conf);
      assert.deepEqual([del.exitCode, del.stdout], [0, '']);
      if (v !== '0.3.1') {
        const add2 = await run(e, conf);
        const chk = await run({ ...e, CNI_COMMAND: 'CHECK' }, { ...conf, prevResult: add2.json });
        assert.deepEqual([chk.exitCode, chk.stdout], [0, '']);
      }
    });
  }
});
