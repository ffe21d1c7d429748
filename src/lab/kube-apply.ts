// `lab apply` / `lab delete` on a kube lab: the same validation as the embedded lab (each object,
// then against the cluster), then the real kubectl with the lab's admin kubeconfig; apply then
// waits until the applied pods are Running or Failed, as the embedded lab returns once they are.
import { join } from 'node:path';
import type { Pod } from '../api/index.js';
import type { Store } from '../store/types.js';
import { kubeBinDir } from '../store/kube-bins.js';
import type { Runner } from '../util/exec.js';
import { checkApply, type ApplyOutcome, type Progress } from './apply.js';
import { podViewOf } from './cluster.js';
import { adminKubeconfig, type LabConfig } from './layout.js';

export function kubectlArgs(lab: LabConfig, args: readonly string[]): { cmd: string; args: string[] } {
  return { cmd: join(kubeBinDir()!, 'kubectl'), args: ['--kubeconfig', adminKubeconfig(lab.kube!), ...args] };
}

async function kubectl(runner: Runner, lab: LabConfig, args: readonly string[], progress: Progress) {
  const k = kubectlArgs(lab, args);
  const r = await runner.run(k.cmd, k.args, { timeoutMs: 180_000 });
  for (const l of r.stdout.split('\n').filter((x) => x.trim() !== '')) progress(l);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return r.stdout;
}

const fileArgs = (paths: readonly string[]): string[] => paths.flatMap((p) => ['-f', p]);

export async function kubeApplyPaths(
  store: Store,
  runner: Runner,
  lab: LabConfig,
  paths: readonly string[],
  progress: Progress,
  waitMs = 120_000,
): Promise<ApplyOutcome> {
  const check = await checkApply(store, paths);
  if (check.errorCount > 0) return { issues: check.issues, errorCount: check.errorCount, changed: [] };
  const out = await kubectl(runner, lab, ['apply', ...fileArgs(paths)], progress);
  const changed = out
    .split('\n')
    .map((l) => /^(\S+) (created|configured)$/.exec(l.trim())?.[1])
    .filter((x): x is string => x !== undefined);
  const pods = check.report.resources.filter((r): r is Pod => r.type === 'Pod');
  const deadline = Date.now() + waitMs;
  let waiting = pods;
  while (waiting.length) {
    const next: Pod[] = [];
    for (const p of waiting) {
      const ns = p.metadata.namespace ?? 'default';
      const v = podViewOf(await store.get({ kind: 'Pod', namespace: ns, name: p.metadata.name }), lab.name);
      if (v?.phase === 'Running') progress(`pod/${p.metadata.name} running on ${v.nodeName}`);
      else if (v?.phase === 'Failed') progress(`pod/${p.metadata.name} FAILED: ${v.reason ?? ''}`);
      else next.push(p);
    }
    waiting = next;
    if (!waiting.length) break;
    if (Date.now() > deadline) {
      progress(`still pending after ${waitMs / 1000} s: ${waiting.map((p) => p.metadata.name).join(', ')}`);
      break;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { issues: check.issues, errorCount: 0, changed };
}

export async function kubeDeletePaths(
  runner: Runner,
  lab: LabConfig,
  paths: readonly string[],
  progress: Progress,
): Promise<ApplyOutcome> {
  const out = await kubectl(
    runner,
    lab,
    ['delete', '--ignore-not-found', '--wait=true', ...fileArgs(paths)],
    progress,
  );
  const changed = out
    .split('\n')
    .map((l) => /^(\S+) deleted/.exec(l.trim())?.[1])
    .filter((x): x is string => x !== undefined);
  return { issues: [], errorCount: 0, changed };
}
