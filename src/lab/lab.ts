// A lab: its config on disk, its store, and the operations of `multinet lab`.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { openStore } from '../store/open.js';
import type { Store } from '../store/types.js';
import { ProcessRunner, type Runner } from '../util/exec.js';
import { routingNsPrefix } from '../dataplane/naming.js';
import { labDir, makeLabConfig, type LabConfig } from './layout.js';
import { createTopology, destroyNamespaces, listNetns } from './topology.js';
import {
  agentPid,
  agentReadiness,
  isAlive,
  startAgent,
  stopAgent,
  stopMemifd,
  waitForAgent,
} from './agents.js';
import { prepareCniBin } from './cni-runtime.js';
import { describeMultus, findMultus, linkMultus } from './multus.js';
import { applyPaths, deletePaths, type Progress } from './apply.js';
import { kubeApplyPaths, kubeDeletePaths } from './kube-apply.js';
import {
  bootstrapKube,
  killApiServer,
  makeLabPki,
  startApiServer,
  startControlPlane,
  stopControlPlane,
} from './kube-control.js';
import { kubeDaemonsAlive, startKubeDaemons, stopKubeDaemons } from './kube-daemons.js';
import { freePort } from '../util/ports.js';
import { podViewOf, readCluster } from './cluster.js';
import type { Endpoint, PolicyOracle } from './check.js';
import type { ClusterView } from '../calc/node-state.js';
import { policyEvaluator } from '../calc/policy-eval.js';

export interface UpOptions {
  readonly nodes: number;
  readonly storeUrl?: string;
  readonly resyncSeconds?: number;
  /** A kube lab: its own etcd + kube-apiserver, agents on kubernetes://, kubelets and a scheduler. */
  readonly kube?: boolean;
}

export class Lab {
  private constructor(
    readonly config: LabConfig,
    readonly runner: Runner,
    private storeP?: Promise<Store>,
  ) {}

  static configFile(name: string): string {
    return join(labDir(name), 'lab.json');
  }

  static exists(name: string): boolean {
    return existsSync(Lab.configFile(name));
  }

  static load(name: string, runner: Runner = new ProcessRunner()): Lab {
    const file = Lab.configFile(name);
    if (!existsSync(file)) throw new Error(`no lab "${name}" is up (run: multinet lab up)`);
    return new Lab(JSON.parse(readFileSync(file, 'utf8')) as LabConfig, runner);
  }

  /** Creates what is missing (namespaces, store, agents); a running lab is left as it is. */
  static async up(
    name: string,
    opts: UpOptions,
    progress: Progress,
    runner: Runner = new ProcessRunner(),
  ): Promise<Lab> {
    let lab: Lab;
    if (Lab.exists(name)) {
      lab = Lab.load(name, runner);
      if (opts.nodes !== lab.config.nodes.length)
        progress(
          `lab ${name} is up with ${lab.config.nodes.length} nodes; keeping it (run lab down first to change)`,
        );
      if (!!opts.kube !== !!lab.config.kube)
        progress(
          `lab ${name} is up ${lab.config.kube ? 'with' : 'without'} a Kubernetes control plane; keeping it (run lab down first to change)`,
        );
    } else {
      if (opts.kube && opts.storeUrl)
        throw new Error("--kube and --store: a kube lab's store is its own API server (kubernetes://)");
      const ports = opts.kube
        ? { apiPort: await freePort(), etcdPort: await freePort(), etcdPeerPort: await freePort() }
        : undefined;
      const health = [];
      for (let i = 0; i < opts.nodes; i++) health.push(await freePort());
      const made = makeLabConfig(name, opts.nodes, opts.storeUrl, ports, health);
      // A kube lab's kubelet roles run the real Multus when it is built (decided once, kept in lab.json).
      const config: LabConfig = made.kube ? { ...made, kube: { ...made.kube, multus: findMultus() } } : made;
      mkdirSync(config.dir, { recursive: true, mode: 0o700 });
      writeFileSync(Lab.configFile(name), JSON.stringify(config, null, 2));
      lab = new Lab(config, runner);
    }
    const c = lab.config;
    progress(`namespaces: ${c.underlayNs}, ${c.nodes.map((n) => n.netns).join(', ')}`);
    await createTopology(runner, c);
    const bin = prepareCniBin(c.dir);
    if (c.kube) {
      const m = c.kube.multus;
      if (m?.kind === 'thin') linkMultus(bin, m.binary);
      progress(describeMultus(m));
      makeLabPki(c);
      await startControlPlane(c, progress);
      await bootstrapKube(c, progress);
    } else await lab.ensureDefaultNetwork(await lab.store());
    for (const n of c.nodes) {
      if (isAlive(agentPid(n))) continue;
      progress(`agent ${n.name}: starting`);
      startAgent(c, n, opts.resyncSeconds !== undefined ? { resyncSeconds: opts.resyncSeconds } : {});
    }
    if (c.kube) startKubeDaemons(c, lab.cniPath, progress);
    for (const n of c.nodes) {
      await waitForAgent(n);
      progress(`agent ${n.name}: ready`);
    }
    return lab;
  }

  store(): Promise<Store> {
    this.storeP ??= openStore(this.config.storeUrl);
    return this.storeP;
  }

  async close(): Promise<void> {
    if (this.storeP) await (await this.storeP).close();
    this.storeP = undefined;
  }

  get cniPath(): string {
    return join(this.config.dir, 'cni-bin');
  }

  private async ensureDefaultNetwork(store: Store): Promise<void> {
    const d = this.config.defaultNetwork;
    const key = { kind: 'Network', namespace: '', name: d.name };
    if (await store.get(key)) return;
    await store.create(key, {
      apiVersion: 'projectcalico.org/v3',
      kind: 'Network',
      metadata: { name: d.name, labels: { 'multinet.io/default-network': 'true' } },
      spec: { vni: d.vni, range: d.range },
    });
  }

  async apply(paths: readonly string[], progress: Progress) {
    if (this.config.kube)
      return kubeApplyPaths(await this.store(), this.runner, this.config, paths, progress);
    return applyPaths(await this.store(), this.runner, this.config, this.cniPath, paths, progress);
  }

  async delete(paths: readonly string[], progress: Progress) {
    if (this.config.kube) return kubeDeletePaths(this.runner, this.config, paths, progress);
    return deletePaths(await this.store(), this.runner, this.config, this.cniPath, paths, progress);
  }

  /** The cluster as an agent sees it (for model-side checks). */
  async view(): Promise<ClusterView> {
    return (await readCluster(await this.store())).view();
  }

  /** Expected-connectivity oracle: ICMP echo allowed by the policies between two endpoints. */
  async policyOracle(): Promise<PolicyOracle> {
    const view = await this.view();
    const allows = policyEvaluator(view);
    // Pod netns are named namespaces; attachments record them as /var/run/netns/<name>.
    const byIf = new Map(view.attachments.map((a) => [`${basename(a.netns)}|${a.ifName}`, a]));
    return (from, to) => {
      const f = byIf.get(`${from.netns}|${from.ifName}`);
      const t = byIf.get(`${to.netns}|${to.ifName}`);
      if (!f || !t) return true;
      return allows({ att: f, ip: from.ip }, { att: t, ip: to.ip }, { proto: 1 });
    };
  }

  /** Every pod interface of the cluster, with its network (for check, get pods, exec). */
  async endpoints(): Promise<Endpoint[]> {
    const cluster = await readCluster(await this.store());
    const atts = new Map([...cluster.attachments.values()].map((a) => [`${a.containerId}|${a.ifName}`, a]));
    const out: Endpoint[] = [];
    for (const o of cluster.list('Pod')) {
      const st = podViewOf(o, this.config.name);
      if (!st || st.phase !== 'Running') continue;
      for (const s of st.attachments) {
        const rec = atts.get(`${st.containerId}|${s.ifName}`);
        const network = rec?.network ?? '?';
        const ips = rec?.ips ?? [];
        for (const ip of ips)
          out.push({
            pod: `${o.namespace === 'default' ? '' : `${o.namespace}/`}${o.name}`,
            ifName: s.ifName,
            netns: st.netns,
            network,
            ip,
          });
      }
    }
    return out.sort((a, b) => a.pod.localeCompare(b.pod) || a.ifName.localeCompare(b.ifName));
  }

  async podNetns(ref: string): Promise<string> {
    const [ns, name] = ref.includes('/') ? ref.split('/', 2) : ['default', ref];
    const store = await this.store();
    const o = await store.get({ kind: 'Pod', namespace: ns!, name: name! });
    const st = podViewOf(o, this.config.name);
    if (!o) throw new Error(`pod ${ns}/${name} not found`);
    if (!st || st.phase !== 'Running')
      throw new Error(`pod ${ns}/${name} is not running${st?.reason ? `: ${st.reason}` : ''}`);
    return st.netns;
  }

  async nodeStatus(): Promise<
    {
      name: string;
      netns: string;
      underlay: string;
      agent: 'alive' | 'dead';
      pid?: number;
      /** The agent's /readyz answer ('ok' or why not); absent when it has no health endpoint. */
      ready?: string;
      lastSync?: string;
      /** The agent's store watch when it last wrote its status (see AgentStatus.watch). */
      watch?: { connected: boolean; staleSeconds?: number; failures: number; lastError?: string };
    }[]
  > {
    const store = await this.store().catch(() => undefined);
    const out = [];
    for (const n of this.config.nodes) {
      const pid = agentPid(n);
      const st = store
        ? ((await store.get({ kind: 'AgentStatus', namespace: '', name: n.name }).catch(() => undefined))
            ?.value as
            | {
                lastSync?: string;
                watch?: { connected: boolean; staleSeconds?: number; failures: number; lastError?: string };
              }
            | undefined)
        : undefined;
      const alive = isAlive(pid);
      const ready = alive ? await agentReadiness(n) : undefined;
      out.push({
        name: n.name,
        netns: n.netns,
        underlay: n.underlay,
        agent: alive ? ('alive' as const) : ('dead' as const),
        ...(pid ? { pid } : {}),
        ...(ready !== undefined ? { ready } : {}),
        ...(st?.lastSync ? { lastSync: st.lastSync } : {}),
        ...(st?.watch ? { watch: st.watch } : {}),
      });
    }
    return out;
  }

  async restartAgent(node: string, opts: { resyncSeconds?: number } = {}): Promise<void> {
    const n = this.config.nodes.find((x) => x.name === node);
    if (!n) throw new Error(`no node ${node}`);
    await stopAgent(n);
    startAgent(this.config, n, opts);
    await waitForAgent(n);
  }

  /** kill -9 of a kube lab's API server, and its restart on the same etcd (outage tests). */
  async killApiServer(): Promise<void> {
    await killApiServer(this.config);
  }

  async startApiServer(): Promise<void> {
    await startApiServer(this.config);
  }

  /** A kube lab's own processes: etcd, kube-apiserver, the scheduler and each node's kubelet. */
  kubeProcesses(): { name: string; pid?: number; alive: boolean }[] {
    return this.config.kube ? kubeDaemonsAlive(this.config) : [];
  }

  /** Removes everything the lab made: agents, pods, routing domains, node namespaces, its folder. */
  async down(progress: Progress): Promise<void> {
    const c = this.config;
    // Kubelets first: a kubelet stopped does not tear its pods down (their namespaces go below).
    if (c.kube) await stopKubeDaemons(c, progress);
    for (const n of c.nodes) {
      await stopAgent(n);
      await stopMemifd(c, n);
      progress(`agent ${n.name}: stopped`);
    }
    await this.close();
    if (c.kube) {
      await stopControlPlane(c);
      progress('etcd, kube-apiserver: stopped');
    }
    const prefixes = [`mn-${c.name}-`, ...c.nodes.map((n) => routingNsPrefix(n.name))];
    const all = await listNetns(this.runner);
    // Pods and routing domains first, then nodes, then the underlay.
    const mine = all.filter((ns) => prefixes.some((p) => ns.startsWith(p)));
    const order = (ns: string): number =>
      ns === c.underlayNs ? 2 : c.nodes.some((n) => n.netns === ns) ? 1 : 0;
    await destroyNamespaces(
      this.runner,
      mine.sort((a, b) => order(a) - order(b)),
    );
    progress(`namespaces removed: ${mine.length}`);
    rmSync(c.dir, { recursive: true, force: true });
    progress(`state folder ${c.dir} removed`);
  }
}
