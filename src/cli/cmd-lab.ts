// `multinet lab ...`: a local multi-node cluster in network namespaces.
import type { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { stringify } from 'yaml';
import { Lab } from '../lab/lab.js';
import { DEFAULT_LAB, checkLabName } from '../lab/layout.js';
import { expectations, formatMatrix, mismatches, runChecks } from '../lab/check.js';
import { labResponderDeps, respondersUnavailable, startMemifResponders } from '../lab/memif-responders.js';
import { isMemifName } from '../dataplane/naming.js';
import { readCluster } from '../lab/cluster.js';
import {
  nadRows,
  networkRows,
  podRows,
  policyRows,
  serviceRows,
  type PolicyRow,
  type ServiceRow,
} from '../lab/views.js';
import { formatDecodeError, formatIssue } from '../api/index.js';
import { table } from './table.js';
import type { ClusterCache } from '../agent/cache.js';
import { requireTools } from './prereq.js';
import { registerKube } from './cmd-lab-kube.js';
import { describeMultus } from '../lab/multus.js';

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
  // memif targets are probed through a responder connected to them for the check's duration.
  const memif = await startMemifResponders(
    endpoints,
    labResponderDeps(lab.config),
    endpoints.some((e) => isMemifName(e.ifName)) ? respondersUnavailable() : undefined,
  );
  // Interrupted, the responders still go: each holds a memif its pod's application may want back.
  const interrupted = (): void => void memif.stop().finally(() => process.exit(130));
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  let results;
  try {
    const pairs = expectations(endpoints, await lab.policyOracle(), memif.probed);
    results = await runChecks(lab.runner, pairs);
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await memif.stop();
  }
  const bad = mismatches(results);
  const probed = results.filter((r) => r.seen !== undefined).length;
  if (!opts.quiet) say(formatMatrix(endpoints, results));
  for (const [ifc, why] of memif.skipped) say(`memif ${ifc} not probed: ${why}`);
  say(
    `${probed} pairs probed over ${endpoints.length} interfaces: ${probed - bad.length} as expected, ${bad.length} not`,
  );
  for (const b of bad)
    say(
      `  MISMATCH ${b.from.pod}/${b.from.ifName} (${b.from.network}) -> ${b.to.pod}/${b.to.ifName} ${b.to.ip} (${b.to.network}): expected ${b.expected}, seen ${b.seen}`,
    );
  return bad.length === 0;
}

export type Output = 'table' | 'wide' | 'json' | 'yaml';

function emit(output: Output, objects: unknown[], headers: string[], rows: string[][]): string {
  if (output === 'json') return JSON.stringify(objects, null, 2);
  if (output === 'yaml') return stringify(objects);
  return rows.length ? table(headers, rows) : 'No resources found.';
}

async function get(lab: Lab, what: string, names: readonly string[], output: Output): Promise<void> {
  if (['nodes', 'node'].includes(what)) {
    const ns = (await lab.nodeStatus()).filter((n) => names.length === 0 || names.includes(n.name));
    const rows = ns.map((n) => [n.name, n.underlay, n.netns, n.agent, n.lastSync ?? '']);
    return say(emit(output, ns, ['NAME', 'UNDERLAY', 'NETNS', 'AGENT', 'LAST SYNC'], rows));
  }
  const cluster = await readCluster(await lab.store());
  for (const e of cluster.undecodable()) progress(`warning: ${formatDecodeError(e)} (not shown)`);
  say(formatGet(cluster, what, names, output, lab.config.name));
}

/** `lab get TYPE [NAME...]` of everything but nodes: the lab's rows, formatted. */
export function formatGet(
  cluster: ClusterCache,
  what: string,
  names: readonly string[],
  output: Output,
  labName: string = DEFAULT_LAB,
): string {
  const wide = output === 'wide';
  const w = <T>(cols: T[]): T[] => (wide ? cols : []);
  switch (what) {
    case 'networks':
    case 'network': {
      const rs = networkRows(cluster, names);
      return emit(
        output,
        rs.map((r) => r.manifest),
        ['NAME', 'VNI', 'RANGE', 'PODS', ...w(['POD NAMES'])],
        rs.map((r) => [r.name, String(r.vni), r.range, String(r.pods.length), ...w([r.pods.join(',')])]),
      );
    }
    case 'nads':
    case 'nad':
    case 'network-attachment-definitions': {
      const rs = nadRows(cluster, names);
      return emit(
        output,
        rs.map((r) => r.manifest),
        ['NAMESPACE', 'NAME', 'NETWORK', 'IPAM', 'RANGES'],
        rs.map((r) => [r.namespace, r.name, r.network, r.ipam, r.ranges?.join(',') ?? '(network range)']),
      );
    }
    case 'pods':
    case 'pod': {
      const rs = podRows(cluster, names, labName);
      return emit(
        output,
        rs.map((r) => r.manifest),
        ['NAMESPACE', 'NAME', 'NODE', 'STATUS', 'INTERFACES', ...w(['REASON', 'NETNS'])],
        rs.map((r) => [
          r.namespace,
          r.name,
          r.node,
          r.phase,
          r.interfaces.join(' '),
          ...w([r.reason, r.netns]),
        ]),
      );
    }
    case 'services':
    case 'service':
    case 'svc': {
      const rs = serviceRows(cluster, names, { endpoints: wide });
      const eps = (r: ServiceRow): string =>
        r.endpoints
          ? [...r.endpoints].map(([p, e]) => `${p}=${e.length ? e.join(',') : '<none>'}`).join(' ')
          : '<none>';
      return emit(
        output,
        rs.map((r) => r.manifest),
        ['NAMESPACE', 'NAME', 'NETWORK', 'CLUSTER-IP', 'PORTS', 'SELECTOR', ...w(['ENDPOINTS'])],
        rs.map((r) => [
          r.namespace,
          r.name,
          r.network ?? '(default)',
          r.clusterIP || '<pending>',
          r.ports.join(','),
          r.selector,
          ...w([eps(r)]),
        ]),
      );
    }
    case 'policies':
    case 'policy':
    case 'networkpolicies': {
      const rs = policyRows(cluster, names, { bindings: wide });
      const applies = (r: PolicyRow): string =>
        r.appliesTo?.size
          ? [...r.appliesTo].map(([n, ifs]) => `${n}: ${ifs.join(',')}`).join('; ')
          : '<none>';
      return emit(
        output,
        rs.map((r) => r.metadata),
        ['NAMESPACE', 'NAME', 'ORDER', 'SELECTOR', 'TYPES', 'NETWORKS', ...w(['APPLIES TO'])],
        rs.map((r) => [
          r.namespace,
          r.name,
          String(r.order ?? ''),
          r.selector,
          r.types.join(','),
          r.networks.map((n) => n ?? '(default)').join(','),
          ...w([applies(r)]),
        ]),
      );
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
    .option('--kube', 'a real control plane: etcd + kube-apiserver for the lab, agents on kubernetes://')
    .option('--resync-seconds <s>', 'agents re-read the kernel this often', '10')
    .option('-f, --filename <path...>', 'files or folders to apply once up')
    .action(
      async (
        o: { nodes: string; store?: string; kube?: boolean; resyncSeconds: string; filename?: string[] },
        cmd: Command,
      ) => {
        await requireTools();
        const nodes = Number(o.nodes);
        if (!Number.isInteger(nodes) || nodes < 1 || nodes > 16)
          throw new Error(`--nodes ${o.nodes}: must be an integer from 1 to 16`);
        const l = await Lab.up(
          labName(cmd),
          {
            nodes,
            ...(o.store ? { storeUrl: o.store } : {}),
            ...(o.kube ? { kube: true } : {}),
            resyncSeconds: Number(o.resyncSeconds),
          },
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
            ['NODE', 'UNDERLAY', 'NETNS', 'AGENT', 'PID', 'READY', 'LAST SYNC', 'WATCH'],
            ns.map((n) => [
              n.name,
              n.underlay,
              n.netns,
              n.agent === 'alive' ? 'alive' : 'DEAD',
              String(n.pid ?? ''),
              n.ready === undefined ? '' : n.ready === 'ok' ? 'ok' : n.ready,
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
        const kp = l.kubeProcesses();
        if (kp.length) {
          say(`control plane: ${kp.map((p) => `${p.name} ${p.alive ? 'alive' : 'DEAD'}`).join(', ')}`);
          say(describeMultus(l.config.kube?.multus));
        }
        if (kp.some((p) => !p.alive)) process.exitCode = 1;
        if (ns.some((n) => n.agent === 'dead')) process.exitCode = 1;
      }),
    );

  registerKube(lab, labName);

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
