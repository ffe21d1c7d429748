// The kube lab's subcommands: `lab kubeconfig`, and the processes the lab starts itself (hidden:
// `lab kubelet --node N`, `lab scheduler`).
import { Command } from 'commander';
import { Lab } from '../lab/lab.js';
import { adminKubeconfig, nodeKubeconfig, type LabConfig } from '../lab/layout.js';
import { KubePodApi, LabKubelet } from '../lab/kubelet.js';
import { kubeBinder, LabScheduler } from '../lab/scheduler.js';
import { schedulerKubeconfig, whereaboutsConfig } from '../lab/kube-control.js';
import { prepareMultusNode } from '../lab/multus.js';
import { credentialsFromKubeconfig, KubeClient } from '../store/kube-client.js';
import { openStore } from '../store/open.js';
import { ProcessRunner } from '../util/exec.js';
import { createLogger } from '../util/log.js';

function kubeLab(cmd: Command, labName: (c: Command) => string): LabConfig {
  const c = Lab.load(labName(cmd)).config;
  if (!c.kube) throw new Error(`lab ${c.name} has no Kubernetes control plane (it was made without --kube)`);
  return c;
}

/** Runs until SIGTERM/SIGINT. */
async function untilSignal(run: (signal: AbortSignal) => Promise<void>): Promise<void> {
  const ac = new AbortController();
  process.once('SIGTERM', () => ac.abort());
  process.once('SIGINT', () => ac.abort());
  await run(ac.signal);
}

export function registerKube(lab: Command, labName: (c: Command) => string): void {
  lab
    .command('kubeconfig')
    .description("print the path of the kube lab's admin kubeconfig (or of a node agent's)")
    .option('--node <name>', "the kubeconfig this node's agent uses")
    .option(
      '--whereabouts',
      'instead, the config file (with its kubeconfig) of the real Whereabouts plugin, for a NAD\'s ipam "configuration_path"',
    )
    .action((o: { node?: string; whereabouts?: boolean }, cmd: Command) => {
      const c = kubeLab(cmd, labName);
      if (o.whereabouts) return void process.stdout.write(`${whereaboutsConfig(c.kube!)}\n`);
      if (o.node && !c.nodes.some((n) => n.name === o.node))
        throw new Error(
          `--node ${o.node}: no such node in lab ${c.name} (${c.nodes.map((n) => n.name).join(', ')})`,
        );
      process.stdout.write(
        `${o.node ? nodeKubeconfig(c.kube!, o.node, 'agent') : adminKubeconfig(c.kube!)}\n`,
      );
    });

  lab
    .addCommand(
      new Command('kubelet')
        .description("a kube lab node's kubelet + Multus role (started by lab up --kube)")
        .requiredOption('--node <name>')
        .requiredOption('--cni-path <dir>')
        .action(async (o: { node: string; cniPath: string }, cmd: Command) => {
          const c = kubeLab(cmd, labName);
          const node = c.nodes.find((n) => n.name === o.node);
          if (!node) throw new Error(`--node ${o.node}: no such node in lab ${c.name}`);
          const kubeconfig = nodeKubeconfig(c.kube!, node.name, 'kubelet');
          const store = await openStore(`kubernetes://?kubeconfig=${kubeconfig}`, {
            kubernetes: { failFast: false },
          });
          const client = new KubeClient(credentialsFromKubeconfig(kubeconfig));
          const log = createLogger(`kubelet/${node.name}`);
          const m = c.kube!.multus;
          const kubelet = new LabKubelet({
            lab: c,
            node,
            store,
            api: new KubePodApi(client),
            runner: new ProcessRunner(),
            cniPath: o.cniPath,
            log,
            ...(m?.kind === 'thin' ? { multus: prepareMultusNode(c, node, o.cniPath) } : {}),
          });
          log.info({ multus: m?.kind === 'thin' ? m.version : 'emulated' }, 'started');
          await untilSignal((s) => kubelet.run(s));
          await store.close();
          client.close();
        }),
      { hidden: true },
    )
    .addCommand(
      new Command('scheduler')
        .description('the kube lab scheduler (started by lab up --kube)')
        .option('--cni-path <dir>')
        .action(async (_o: unknown, cmd: Command) => {
          const c = kubeLab(cmd, labName);
          const kubeconfig = schedulerKubeconfig(c.kube!);
          const store = await openStore(`kubernetes://?kubeconfig=${kubeconfig}`, {
            kubernetes: { failFast: false },
          });
          const client = new KubeClient(credentialsFromKubeconfig(kubeconfig));
          const log = createLogger('scheduler');
          const s = new LabScheduler({
            nodes: c.nodes.map((n) => n.name),
            store,
            bind: kubeBinder(client),
            log,
          });
          log.info('started');
          await untilSignal((sig) => s.run(sig));
          await store.close();
          client.close();
        }),
      { hidden: true },
    );
}
