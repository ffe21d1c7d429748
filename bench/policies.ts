// `npm run bench -- policies`: TCP throughput between two pods with 10,000 policy rules applied to
// them against none (same run), and the cost of adding one pod to a selector with those rules present.
import { spawn, spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { policyTables, DEFAULT_NETWORK } from '../src/calc/policies.js';
import { attachment, pod, resources, view } from '../src/testing/policy-fixtures.js';
import { PolicyNetLab } from '../src/testing/policy-netlab.js';
import { nftTableScript } from '../src/calc/policy-render.js';

const RULES = 10_000;

function iperf(lab: PolicyNetLab, server: string, client: string, seconds = 3): number {
  const s = lab.pods.get(server)!;
  const c = lab.pods.get(client)!;
  const srv = spawn('ip', ['netns', 'exec', s.netns, 'iperf3', '-s', '-1', '-B', s.ip], { stdio: 'ignore' });
  spawnSync('sleep', ['0.5']);
  try {
    const r = spawnSync(
      'ip',
      ['netns', 'exec', c.netns, 'iperf3', '-c', s.ip, '-t', String(seconds), '-P', '1', '-J'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (r.status !== 0) throw new Error(`iperf3: ${r.stderr || r.stdout}`);
    const j = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } };
    return j.end.sum_received.bits_per_second / 1e9;
  } finally {
    srv.kill();
  }
}

/** One policy selecting both pods: RULES-1 ingress Deny rules that never match iperf, then Allow 5201. */
function policyYaml(): string {
  const rules: string[] = [];
  for (let i = 0; i < RULES - 1; i++)
    rules.push(
      `    - action: Deny\n      protocol: TCP\n      source: { selector: "role == 'blocked'" }\n      destination: { ports: [${10000 + (i % 50000)}] }`,
    );
  rules.push(`    - action: Allow\n      protocol: TCP\n      destination: { ports: [5201] }`);
  return `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: { name: bench }
spec:
  selector: app == 'bench'
  types: [Ingress, Egress]
  ingress:
${rules.join('\n')}
  egress:
    - action: Allow
---
`;
}

export async function run(_args: readonly string[]): Promise<string> {
  if (process.getuid?.() !== 0) return '_skipped: needs root_';
  const lab = new PolicyNetLab(`pb${process.pid % 100000}`, DEFAULT_NETWORK).up();
  const rows: string[] = [];
  try {
    lab.addPod('a', '10.244.0.2');
    lab.addPod('b', '10.244.0.3');
    const att = (name: string, ip: string, netns: string) =>
      attachment({ pod: name, node: 'n1', network: DEFAULT_NETWORK, ifName: 'eth0', ip, netns });
    const atts = [...lab.pods.values()].map((p) => att(p.name, p.ip, p.netns));
    const base = iperf(lab, 'b', 'a');

    const rs = resources(
      policyYaml() + pod('a', { app: 'bench' }) + pod('b', { app: 'bench' }) + pod('x', { role: 'blocked' }),
    );
    let t0 = performance.now();
    const table = policyTables(view({ resources: rs, attachments: atts }), 'n1').get(DEFAULT_NETWORK)!;
    const calcMs = performance.now() - t0;
    const script = nftTableScript(table);
    t0 = performance.now();
    lab.nft(script);
    const loadMs = performance.now() - t0;
    const ruleCount = (table.skeleton.match(/ drop$| accept$/gm) ?? []).length;
    const withRules = iperf(lab, 'b', 'a');

    // One more pod joins the selector `role == 'blocked'`: the calc's diff is one element, written alone.
    const joined = att('x', '10.244.0.9', 'mn-none');
    const after = policyTables(view({ resources: rs, attachments: [...atts, joined] }), 'n1').get(
      DEFAULT_NETWORK,
    )!;
    const diff: string[] = [];
    for (const [set, els] of Object.entries(after.elements)) {
      const before = new Set(table.elements[set] ?? []);
      for (const e of els) if (!before.has(e)) diff.push(`add element inet mnpol ${set} { ${e} }`);
    }
    if (after.skeleton !== table.skeleton) throw new Error('adding a pod changed the skeleton');
    t0 = performance.now();
    lab.nft(diff.join('\n') + '\n');
    const addMs = performance.now() - t0;
    t0 = performance.now();
    policyTables(view({ resources: rs, attachments: [...atts, joined] }), 'n1');
    const recalcMs = performance.now() - t0;

    const ratio = withRules / base;
    rows.push(`| TCP, 1 stream, 3 s, no policy (baseline) | ${base.toFixed(2)} Gbit/s | |`);
    rows.push(
      `| same, ${RULES.toLocaleString('en')} rules applied to both pods (${ruleCount} nft rules) | ${withRules.toFixed(2)} Gbit/s | ratio **${ratio.toFixed(2)}** (target >= 0.95) |`,
    );
    rows.push(
      `| add one pod to a selector with those rules present: nft write | ${addMs.toFixed(1)} ms | ${diff.length} element(s), one \`nft -f\` (target < 50 ms) |`,
    );
    rows.push(
      `| policyTables() for that view (calc, whole node) | ${recalcMs.toFixed(0)} ms | first run ${calcMs.toFixed(0)} ms |`,
    );
    rows.push(
      `| load the whole table (${RULES.toLocaleString('en')} rules) in one transaction | ${loadMs.toFixed(0)} ms | ${(script.length / 1024).toFixed(0)} KiB script |`,
    );
  } finally {
    lab.down();
  }
  return ['| measure | value | note |', '|---|---|---|', ...rows].join('\n');
}
