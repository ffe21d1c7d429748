// End-to-end tests of `multinet lab`: real namespaces, real agent processes, the real CNI plugin,
// real packets. They need root and the built tree (npm test builds first).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Lab } from './lab.js';
import { labSkip, SEED_DIR, sourcePath } from './test-support.js';
import { expectations, mismatches, runChecks } from './check.js';
import { listNetns } from './topology.js';
import { ProcessRunner } from '../util/exec.js';
import { agentPid, isAlive } from './agents.js';
import type { PodStatus } from './pods.js';

const skip = labSkip;
const SEED = SEED_DIR;
const TESTDATA = sourcePath('./testdata/overlap');
const quiet = (): void => undefined;

async function check(lab: Lab): Promise<{ probed: number; bad: string[] }> {
  const results = await runChecks(lab.runner, expectations(await lab.endpoints(), await lab.policyOracle()));
  const bad = mismatches(results).map(
    (b) =>
      `${b.from.pod}/${b.from.ifName} -> ${b.to.pod}/${b.to.ifName} ${b.to.ip}: expected ${b.expected}, seen ${b.seen}`,
  );
  return { probed: results.filter((r) => r.seen !== undefined).length, bad };
}

async function eventually(fn: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return fn();
}

describe('lab: the seed scenario on 2 nodes', { skip }, () => {
  let lab: Lab;
  let before_: string[];
  before(async () => {
    before_ = await listNetns(new ProcessRunner());
    lab = await Lab.up('t2', { nodes: 2, resyncSeconds: 3 }, quiet);
  });
  after(async () => {
    await lab?.down(quiet);
  });

  test('every seed object applies; samplepods run on both nodes, the memif pod too', async () => {
    const r = await lab.apply([SEED], quiet);
    assert.equal(r.errorCount, 0);
    const store = await lab.store();
    const pods = (await store.list('Pod')).items;
    const status = (n: string): PodStatus | undefined =>
      (pods.find((p) => p.name === n)?.value as { status?: PodStatus }).status;
    assert.equal(status('samplepod')?.phase, 'Running');
    assert.equal(status('samplepod2')?.phase, 'Running');
    assert.equal(status('samplepod3')?.phase, 'Running');
    assert.notEqual(status('samplepod3')?.nodeName, status('samplepod2')?.nodeName);
    // memif1 is served by the node's memif forwarder (src/lab/memif.test.ts drives it with DPDK).
    assert.equal(status('samplepod-memif')?.phase, 'Running', status('samplepod-memif')?.reason);
    assert.deepEqual(
      status('samplepod-memif')!.networkStatus.map((s) => `${s.name}@${s.interface}`),
      ['multinet-default@eth0', 'default/network-blue-conf@memif1'],
    );
    const ifs = status('samplepod')!.networkStatus.map((s) => `${s.name}@${s.interface}`);
    assert.deepEqual(ifs, [
      'multinet-default@eth0',
      'default/network-blue-conf@eth1',
      'default/network-red-conf@eth2',
    ]);
  });

  test('lab check: same network reachable across nodes, other networks not, pol enforced', async () => {
    const eps = await lab.endpoints();
    const pairs = expectations(eps, await lab.policyOracle());
    // samplepod is selected by pol (no ICMP allowed): its pairs are expected blocked by policy
    assert.ok(pairs.some((p) => p.byPolicy && p.to.pod === 'samplepod'));
    assert.ok(
      pairs.some((p) => p.expected === 'reach' && p.from.pod === 'samplepod2' && p.to.pod === 'samplepod3'),
    );
    const { probed, bad } = await check(lab);
    assert.deepEqual(bad, []);
    // 10 kernel interfaces (the memif pod's eth0 among them), 90 ordered pairs less 18 within a
    // pod; memif1 is shown, not pinged (no kernel stack behind it).
    assert.equal(probed, 72);
    assert.ok(pairs.some((p) => p.note === 'memif' && p.to.ifName === 'memif1'));
  });

  test('a route removed by hand breaks check; the agent resync repairs it', async () => {
    const eps = await lab.endpoints();
    const target = eps.find((e) => e.network === 'blue' && e.pod === 'samplepod2')!;
    const store = await lab.store();
    const att = (await store.list('Attachment')).items.map(
      (o) => o.value as { ips: string[]; node: string; network: string },
    );
    const remote = att.find((a) => a.network === 'blue' && a.ips.includes(target.ip))!;
    const other = lab.config.nodes.find((n) => n.name !== remote.node)!;
    const { routingNs } = await import('../dataplane/naming.js');
    const ns = routingNs(other.name, 'blue');
    // Only the pairs towards the target, so the probe is quick; the agent may resync in between
    // (every 2 s here), so the route is removed again until the breakage has been seen once.
    const towardsTarget = async (): Promise<string[]> => {
      const pairs = expectations(await lab.endpoints(), await lab.policyOracle()).filter(
        (p) => p.to.ip === target.ip && p.expected === 'reach' && !p.note,
      );
      return mismatches(await runChecks(lab.runner, pairs)).map((m) => `${m.from.pod}/${m.from.ifName}`);
    };
    let caught: string[] = [];
    for (let i = 0; i < 5 && caught.length === 0; i++) {
      const del = await lab.runner.run('ip', ['-n', ns, 'route', 'del', `${target.ip}/32`]);
      assert.ok(del.code === 0 || /No such process/.test(del.stderr), del.stderr);
      caught = await towardsTarget();
    }
    assert.ok(caught.length > 0, 'check must catch the missing route');
    assert.ok(
      await eventually(async () => (await check(lab)).bad.length === 0, 15_000),
      'resync restores the route',
    );
  });

  test('lab down leaves no namespace, process or file', async () => {
    const pids = lab.config.nodes.map((n) => agentPid(n));
    await lab.down(quiet);
    const now = await listNetns(new ProcessRunner());
    // Only this lab's names count: other work on the machine may create namespaces meanwhile.
    const { routingNsPrefix } = await import('../dataplane/naming.js');
    const ours = [`mn-${lab.config.name}-`, ...lab.config.nodes.map((n) => routingNsPrefix(n.name))];
    assert.deepEqual(
      now.filter((n) => !before_.includes(n) && ours.some((p) => n.startsWith(p))),
      [],
    );
    assert.ok(pids.every((p) => !isAlive(p)));
    assert.ok(!existsSync(lab.config.dir));
    lab = undefined as unknown as Lab;
  });
});

describe('lab: 3 nodes, overlapping networks, churn and an agent restart', { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await Lab.up('t3', { nodes: 3, resyncSeconds: 2 }, quiet);
    const r = await lab.apply([`${TESTDATA}/networks.yaml`, `${TESTDATA}/pods.yaml`], quiet);
    assert.equal(r.errorCount, 0, JSON.stringify(r.issues));
  });
  after(async () => {
    await lab?.down(quiet);
  });

  test('overlapping ranges stay isolated; two interfaces in one network both work', async () => {
    const eps = await lab.endpoints();
    assert.equal(eps.filter((e) => e.pod === 'pa' && e.network === 'green').length, 2);
    const { bad } = await check(lab);
    assert.deepEqual(bad, []);
  });

  test('an IPv6 network across nodes', async () => {
    const r = await lab.apply([`${TESTDATA}/ipv6.yaml`], quiet);
    assert.equal(r.errorCount, 0, JSON.stringify(r.issues));
    const six = (await lab.endpoints()).filter((e) => e.network === 'sixnet');
    assert.equal(six.length, 2);
    for (const e of six) assert.match(e.ip, /^fd00:10::/);
    // The remote node learns of the other pod through its watch: allow it a moment.
    const argv = [
      'netns',
      'exec',
      six[0]!.netns,
      'ping',
      '-6',
      '-c',
      '1',
      '-W',
      '1',
      '-I',
      'eth1',
      six[1]!.ip,
    ];
    const pings = async (): Promise<boolean> => (await lab.runner.run('ip', argv)).code === 0;
    assert.ok(await eventually(pings, 10_000), 'ping -6 across nodes');
    await lab.delete([`${TESTDATA}/ipv6.yaml`], quiet);
  });

  test('a modified NAD is applied to the running pods that use it', async () => {
    const r = await lab.apply([`${TESTDATA}/green-conf-v2.yaml`], quiet);
    assert.equal(r.errorCount, 0, JSON.stringify(r.issues));
    const eps = await lab.endpoints();
    const green = eps.filter((e) => e.network === 'green');
    assert.ok(green.length >= 3);
    for (const e of green) assert.match(e.ip, /^10\.60\.1\./, `${e.pod}/${e.ifName} moved to the new range`);
    const { bad } = await check(lab);
    assert.deepEqual(bad, []);
  });

  test('chaining: static IPAM delegated, tuning after us; requested address and default-route honoured', async () => {
    const r = await lab.apply([`${TESTDATA}/chain.yaml`], quiet);
    assert.equal(r.errorCount, 0, JSON.stringify(r.issues));
    const eps = await lab.endpoints();
    const st = eps.find((e) => e.pod === 'pstatic' && e.ifName === 'eth1');
    const pick = eps.find((e) => e.pod === 'ppick' && e.ifName === 'net1');
    assert.equal(st?.ip, '10.70.0.5');
    assert.equal(pick?.ip, '10.70.9.9');
    const sysctl = await lab.runner.run('ip', [
      'netns',
      'exec',
      st!.netns,
      'sysctl',
      '-n',
      'net.core.somaxconn',
    ]);
    assert.equal(sysctl.stdout.trim(), '1234', 'tuning ran after our plugin, in the pod');
    const routes = await lab.runner.run('ip', ['-n', pick!.netns, 'route', 'show', 'default']);
    assert.match(routes.stdout, /dev net1/, 'default route through the attachment that asked for it');
    assert.doesNotMatch(routes.stdout, /dev eth0/);
    const ping = await lab.runner.run('ip', [
      'netns',
      'exec',
      st!.netns,
      'ping',
      '-c',
      '1',
      '-W',
      '2',
      '-I',
      'eth1',
      pick!.ip,
    ]);
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
    // delete: DEL through the chain releases the static and the picked address alike
    await lab.delete([`${TESTDATA}/chain.yaml`], quiet);
    const store = await lab.store();
    const left = (await store.list('Attachment')).items.filter(
      (o) => (o.value as { network: string }).network === 'purple',
    );
    assert.deepEqual(left, []);
    const resv = (await store.list('IPReservation', 'purple')).items;
    assert.deepEqual(resv, []);
  });

  test('pods added and deleted while traffic runs; an agent killed and restarted: check stays green', async () => {
    const eps = await lab.endpoints();
    const pb = eps.find((e) => e.pod === 'pb' && e.ifName === 'eth1')!;
    const pa = eps.find((e) => e.pod === 'pa' && e.ifName === 'eth1')!;
    // a steady ping from pb to pa across nodes, through all the churn
    const ping = lab.runner.run(
      'ip',
      ['netns', 'exec', pb.netns, 'ping', '-q', '-i', '0.1', '-c', '80', '-I', 'eth1', pa.ip],
      { timeoutMs: 30_000 },
    );
    const r1 = await lab.apply([`${TESTDATA}/extra-pod.yaml`], quiet);
    assert.equal(r1.errorCount, 0);
    const node3 = lab.config.nodes[2]!;
    const pid3 = agentPid(node3)!;
    process.kill(pid3, 'SIGKILL');
    for (let i = 0; i < 40 && isAlive(pid3); i++) await new Promise((r) => setTimeout(r, 50));
    const status = await lab.nodeStatus();
    assert.equal(
      status.find((n) => n.name === node3.name)?.agent,
      'dead',
      'lab status shows the killed agent as dead',
    );
    await lab.restartAgent(node3.name, { resyncSeconds: 2 });
    await lab.delete([`${TESTDATA}/extra-pod.yaml`], quiet);
    const out = await ping;
    const m = /(\d+) packets transmitted, (\d+) received/.exec(out.stdout);
    assert.ok(m, out.stdout + out.stderr);
    const lost = Number(m[1]) - Number(m[2]);
    assert.ok(lost <= 3, `lost ${lost} of ${m[1]} packets`);
    const { bad } = await check(lab);
    assert.deepEqual(bad, []);
  });
});
