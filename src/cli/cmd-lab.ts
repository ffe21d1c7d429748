// `multinet lab ...`: a local multi-node cluster in network namespaces.
import type { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { stringify } from 'yaml';
import { Lab } from '../lab/lab.js';
import { DEFAULT_LAB, checkLabName } from '../lab/layout.js';
import { expectations, formatMatrix, mismatches, runChecks } from '../lab/check.js';
import { readCluster } from '../lab/apply.js';
import { formatIssue } from '../api/index.js';
import type { PodStatus } from '../lab/pods.js';
import { KIND_ATTACHMENT, type AttachmentRecord } from '../calc/records.js';
import { table } from './table.js';
import { clusterViewForServices } from '../lab/services-view.js';
import { serviceState } from '../calc/services.js';
import { policyBindings } from '../calc/policies.js';
import type { PolicyResource } from '../calc/node-state.js';
import { requireTools } from './prereq.js';

const say = (s: string): void => void process.stdout.write(s + '\n');
const progress = (s: string): void => void process.stderr.write(`  ${s}\n`);

function labName(cmd: Command): string {
  const name = (cmd.optsWithGlobals().lab as string | undefined) ?? process.env.MULTINET_LAB ?? DEFAULT_LAB;
  const err = checkLabName(name);
  if (err) throw new Error(err);
  return name;
}

async function withLab<T>(cmd: Command, fn: (lab: Lab) => Promise<T>): Promise<T> {
  const lab = Lab.load(labName(cmd));
  try {
    return await fn(lab);
  } finally {
    await lab.close();
  }
}

export async function checkCommand(lab: Lab, opts: { quiet?: boolean } = {}): Promise<boolean> {
  const endpoints = await lab.endpoints();
  const pairs = expectations(endpoints, await lab.policyOracle());
  const results = await runChecks(lab.runner, pairs);
  const bad = mismatches(results);
  const probed = results.filter((r) => r.seen !== undefined).length;
  if (!opts.quiet) say(formatMatrix(endpoints, results));
  say(
    `${probed} pairs probed over ${endpoints.length} interfaces: ${probed - bad.length} as expected, ${bad.length} not`,
  );
  for (const b of bad)
    say(
      `  MISMATCH ${b.from.pod}/${b.from.ifName} (${b.from.network}) -> ${b.to.pod}/${b.to.ifName} ${b.to.ip} (${b.to.network}): expected ${b.expected}, seen ${b.seen}`,
    );
  return bad.length === 0;
}

type Output = 'table' | 'wide' | 'json' | 'yaml';

function emit(output: Output, objects: unknown[], headers: string[], rows: string[][]): void {
  if (output === 'json') say(JSON.stringify(objects, null, 2));
  else if (output === 'yaml') say(stringify(objects));
  else say(rows.length ? table(headers, rows) : 'No resources found.');
}

async function get(lab: Lab, what: string, names: readonly string[], output: Output): Promise<void> {
  // kubectl get TYPE [NAME...]: no names = all.
  const wanted = (n: string): boolean => names.length === 0 || names.includes(n);
  const store = await lab.store();
  const cluster = await readCluster(store);
  const wide = output === 'wide';
  const pick = <T extends { name: string }>(xs: T[]): T[] => xs.filter((x) => wanted(x.name));
  const atts = (await store.list<AttachmentRecord>(KIND_ATTACHMENT)).items.map((o) => o.value);
  switch (what) {
    case 'networks':
    case 'network': {
      const objs = pick(cluster.stored.filter((o) => o.kind === 'Network'));
      const rows = objs.map((o) => {
        const v = o.value as { spec: { vni: number; range: string } };
        const pods = new Set(
          atts.filter((a) => a.network === o.name).map((a) => `${a.podNamespace}/${a.podName}`),
        );
        return [
          o.name,
          String(v.spec.vni),
          v.spec.range,
          String(pods.size),
          ...(wide ? [[...pods].join(',')] : []),
        ];
      });
      return emit(
        output,
        objs.map((o) => o.value),
        ['NAME', 'VNI', 'RANGE', 'PODS', ...(wide ? ['POD NAMES'] : [])],
        rows,
      );
    }
    case 'nads':
    case 'nad':
    case 'network-attachment-definitions': {
      const rs = cluster.resources.filter(
        (r) => r.type === 'NetworkAttachmentDefinition' && wanted(r.metadata.name),
      );
      const rows = rs.map((r) => {
        if (r.type !== 'NetworkAttachmentDefinition') return [];
        const ipam = r.spec.plugin.ipam;
        return [
          r.metadata.namespace ?? '',
          r.metadata.name,
          r.spec.plugin.network,
          ipam.type,
          ipam.rangeFromNetwork ? '(network range)' : ipam.ranges.map((x) => x.range.text).join(','),
        ];
      });
      return emit(
        output,
        cluster.stored
          .filter((o) => o.kind === 'NetworkAttachmentDefinition' && wanted(o.name))
          .map((o) => o.value),
        ['NAMESPACE', 'NAME', 'NETWORK', 'IPAM', 'RANGES'],
        rows,
      );
    }
    case 'pods':
    case 'pod': {
      const objs = pick(cluster.stored.filter((o) => o.kind === 'Pod'));
      const rows = objs.map((o) => {
        const st = (o.value as { status?: PodStatus }).status;
        const ifs = atts
          .filter((a) => st && a.containerId === st.containerId)
          .sort((a, b) => a.ifName.localeCompare(b.ifName))
          .map((a) => `${a.ifName}=${a.network}:${a.ips.join(',')}`);
        return [
          o.namespace,
          o.name,
          st?.nodeName ?? '',
          st?.phase ?? 'Pending',
          ifs.join(' '),
          ...(wide ? [st?.reason ?? '', st?.netns ?? ''] : []),
        ];
      });
      return emit(
        output,
        objs.map((o) => o.value),
        ['NAMESPACE', 'NAME', 'NODE', 'STATUS', 'INTERFACES', ...(wide ? ['REASON', 'NETNS'] : [])],
        rows,
      );
    }
    case 'services':
    case 'service':
    case 'svc': {
      const rs = cluster.resources.filter((r) => r.type === 'Service' && wanted(r.metadata.name));
      // Endpoints as the agents compute them (same pure function), from the stored cluster.
      const svcState = wide ? serviceState(clusterViewForServices(cluster, atts)) : undefined;
      const rows = rs.map((r) => {
        if (r.type !== 'Service') return [];
        const ports = r.spec.ports.map((p) => `${p.port}->${p.targetPort}/${p.protocol}`).join(',');
        const row = [
          r.metadata.namespace ?? '',
          r.metadata.name,
          r.multinet?.network ?? '(default)',
          r.spec.clusterIP || '<pending>',
          ports,
          r.multinet?.selectorText ?? JSON.stringify(r.spec.selector ?? {}),
        ];
        if (!svcState) return row;
        const eps = svcState.services.get(
          `${r.metadata.namespace ?? 'default'}/${r.metadata.name}`,
        )?.endpoints;
        const text = eps
          ? [...eps].map(([p, e]) => `${p}=${e.length ? e.join(',') : '<none>'}`).join(' ')
          : '<none>';
        return [...row, text];
      });
      return emit(
        output,
        cluster.stored.filter((o) => o.kind === 'Service' && wanted(o.name)).map((o) => o.value),
        ['NAMESPACE', 'NAME', 'NETWORK', 'CLUSTER-IP', 'PORTS', 'SELECTOR', ...(wide ? ['ENDPOINTS'] : [])],
        rows,
      );
    }
    case 'policies':
    case 'policy':
    case 'networkpolicies': {
      const rs = cluster.resources.filter(
        (r) =>
          (r.type === 'CalicoNetworkPolicy' || r.type === 'CalicoGlobalNetworkPolicy') &&
          wanted(r.metadata.name),
      );
      const bindings = wide
        ? policyBindings({
            ...clusterViewForServices(cluster, atts),
            policies: cluster.resources.filter(
              (r): r is PolicyResource =>
                r.type === 'CalicoNetworkPolicy' ||
                r.type === 'CalicoGlobalNetworkPolicy' ||
                r.type === 'KubernetesNetworkPolicy',
            ),
          })
        : undefined;
      const rows = rs.map((r) => {
        if (r.type !== 'CalicoNetworkPolicy' && r.type !== 'CalicoGlobalNetworkPolicy') return [];
        const nets = new Set([...r.spec.ingress, ...r.spec.egress].map((x) => x.network ?? '(default)'));
        const row = [
          r.metadata.namespace ?? '',
          r.metadata.name,
          String(r.spec.order ?? ''),
          r.spec.selectorText,
          r.spec.types.join(','),
          [...nets].join(','),
        ];
        if (!bindings) return row;
        // Interfaces the policy polices, per network (the same calc the agents run).
        const id = `${r.type}/${r.type === 'CalicoNetworkPolicy' ? (r.metadata.namespace ?? 'default') : ''}/${r.metadata.name}`;
        const perNet = new Map<string, string[]>();
        for (const b of bindings.filter((x) => x.policy === id))
          perNet.set(b.network, [
            ...(perNet.get(b.network) ?? []),
            `${b.pod.replace(/^default\//, '')}/${b.ifName}`,
          ]);
        return [
          ...row,
          perNet.size ? [...perNet].map(([n, ifs]) => `${n}: ${ifs.join(',')}`).join('; ') : '<none>',
        ];
      });
      return emit(
        output,
        rs.map((r) => r.metadata),
        ['NAMESPACE', 'NAME', 'ORDER', 'SELECTOR', 'TYPES', 'NETWORKS', ...(wide ? ['APPLIES TO'] : [])],
        rows,
      );
    }
    case 'nodes':
    case 'node': {
      const ns = (await lab.nodeStatus()).filter((n) => wanted(n.name));
      const rows = ns.map((n) => [n.name, n.underlay, n.netns, n.agent, n.lastSync ?? '']);
      return emit(output, ns, ['NAME', 'UNDERLAY', 'NETNS', 'AGENT', 'LAST SYNC'], rows);
    }
    default:
      throw new Error(
        `unknown resource type ${JSON.stringify(what)}: use networks, nads, pods, services, policies or nodes`,
      );
  }
}

export function register(program: Command): void {
  const lab = program
    .command('lab')
    .description('a local multi-node cluster in network namespaces')
    .option('--lab <name>', 'lab name', undefined);

  lab
    .command('up')
    .description('create the nodes, start their agents, then apply files if given')
    .option('--nodes <n>', 'number of nodes', '2')
    .option('--store <url>', 'datastore URL (default: embedded, in the lab folder)')
    .option('--resync-seconds <s>', 'agents re-read the kernel this often', '10')
    .option('-f, --filename <path...>', 'files or folders to apply once up')
    .action(
      async (
        o: { nodes: string; store?: string; resyncSeconds: string; filename?: string[] },
        cmd: Command,
      ) => {
        await requireTools();
        const nodes = Number(o.nodes);
        if (!Number.isInteger(nodes) || nodes < 1 || nodes > 16)
          throw new Error(`--nodes ${o.nodes}: must be an integer from 1 to 16`);
        const l = await Lab.up(
          labName(cmd),
          { nodes, ...(o.store ? { storeUrl: o.store } : {}), resyncSeconds: Number(o.resyncSeconds) },
          progress,
        );
        try {
          say(
            `lab ${l.config.name} is up: ${l.config.nodes.map((n) => n.name).join(', ')} (store ${l.config.storeUrl})`,
          );
          if (o.filename?.length) {
            const r = await l.apply(o.filename, progress);
            for (const i of r.issues) say(formatIssue(i));
            if (r.errorCount > 0) process.exitCode = 1;
          }
        } finally {
          await l.close();
        }
      },
    );

  lab
    .command('apply')
    .description('create or update objects from files or folders (kubectl apply)')
    .requiredOption('-f, --filename <path...>', 'files or folders')
    .action(async (o: { filename: string[] }, cmd: Command) =>
      withLab(cmd, async (l) => {
        const r = await l.apply(o.filename, progress);
        for (const i of r.issues) say(formatIssue(i));
        if (r.errorCount > 0) {
          say(`${r.errorCount} error(s): nothing was applied`);
          process.exitCode = 1;
        }
      }),
    );

  lab
    .command('delete')
    .description('delete the objects of files or folders (kubectl delete)')
    .requiredOption('-f, --filename <path...>', 'files or folders')
    .action(async (o: { filename: string[] }, cmd: Command) =>
      withLab(cmd, async (l) => {
        const r = await l.delete(o.filename, progress);
        for (const i of r.issues) say(formatIssue(i));
        if (r.errorCount > 0) process.exitCode = 1;
      }),
    );

  lab
    .command('get')
    .description('list networks, nads, pods, services, policies or nodes')
    .argument('<type>')
    .argument('[names...]')
    .option('-o, --output <format>', 'wide, json or yaml')
    .action(async (type: string, names: string[], o: { output?: string }, cmd: Command) => {
      const output = (o.output ?? 'table') as Output;
      if (!['table', 'wide', 'json', 'yaml'].includes(output))
        throw new Error(`-o ${o.output}: use wide, json or yaml`);
      await withLab(cmd, (l) => get(l, type, names, output));
    });

  lab
    .command('exec')
    .description('run a command inside a pod (kubectl exec)')
    .argument('<pod>', 'pod name or namespace/name')
    .argument('<command...>')
    .action(async (pod: string, command: string[], _o: unknown, cmd: Command) => {
      const netns = await withLab(cmd, (l) => l.podNetns(pod));
      const r = spawnSync('ip', ['netns', 'exec', netns, ...command], { stdio: 'inherit' });
      process.exitCode = r.status ?? 1;
    });

  lab
    .command('check')
    .description('probe every pair of pod interfaces and compare with what the networks promise')
    .option('-q, --quiet', 'no matrix, only the summary')
    .action(async (o: { quiet?: boolean }, cmd: Command) => {
      const ok = await withLab(cmd, (l) => checkCommand(l, o));
      if (!ok) process.exitCode = 1;
    });

  lab
    .command('status')
    .description('nodes, agents and store')
    .action(async (_o: unknown, cmd: Command) =>
      withLab(cmd, async (l) => {
        const ns = await l.nodeStatus();
        say(
          table(
            ['NODE', 'UNDERLAY', 'NETNS', 'AGENT', 'PID', 'LAST SYNC', 'WATCH'],
            ns.map((n) => [
              n.name,
              n.underlay,
              n.netns,
              n.agent === 'alive' ? 'alive' : 'DEAD',
              String(n.pid ?? ''),
              n.lastSync ?? '',
              watchCell(n.watch),
            ]),
          ),
        );
        let storeState = 'reachable';
        try {
          await (await l.store()).list('Node');
        } catch (e) {
          storeState = `UNREACHABLE: ${(e as Error).message}`;
        }
        say(`store: ${l.config.storeUrl} (${storeState})`);
        if (ns.some((n) => n.agent === 'dead')) process.exitCode = 1;
      }),
    );

  lab
    .command('down')
    .description('remove everything the lab made')
    .action(async (_o: unknown, cmd: Command) => {
      const name = labName(cmd);
      if (!Lab.exists(name)) {
        say(`no lab "${name}" is up`);
        return;
      }
      await Lab.load(name).down(progress);
      say(`lab ${name} is down`);
    });
}

/** The agent's store watch as it last reported it: "ok, 0.3s stale" or "RETRYING (3), 41s stale". */
function watchCell(w: { connected: boolean; staleSeconds?: number; failures: number } | undefined): string {
  if (!w) return '';
  const stale = w.staleSeconds === undefined ? '' : `, ${w.staleSeconds}s stale`;
  return w.connected ? `ok${stale}` : `RETRYING (${w.failures})${stale}`;
}
