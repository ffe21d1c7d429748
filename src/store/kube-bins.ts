// Where the Kubernetes control-plane binaries are (built by scripts/k8s-bins.sh into
// /var/cache/multinet/k8s-<K8S_VERSION>-etcd-<ETCD_VERSION>/, versions pinned in
// deploy/k8s-bins/versions.env), and the CRDs of deploy/crds/ as objects. Used by the kube lab and
// by the tests' throwaway control plane. MULTINET_K8S_BINS=<dir> names another binaries folder.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { KubeClient } from './kube-client.js';

export const KUBE_BINARIES = ['etcd', 'kube-apiserver', 'kubectl'] as const;
const CACHE = process.env.MULTINET_BIN_CACHE ?? '/var/cache/multinet';

/** The folder holding package.json (from dist/src/store/x.js or src/store/x.ts). */
export function repoRoot(): string {
  let dir = fileURLToPath(new URL('.', import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json')) && !dir.endsWith('/dist/')) return dir;
    dir = join(dir, '..');
  }
  return process.cwd();
}

/** The binaries folder: $MULTINET_K8S_BINS, else the one deploy/k8s-bins/versions.env names. */
export function kubeBinDir(): string | undefined {
  if (process.env.MULTINET_K8S_BINS) return process.env.MULTINET_K8S_BINS;
  const env = join(repoRoot(), 'deploy', 'k8s-bins', 'versions.env');
  if (existsSync(env)) {
    const v = Object.fromEntries(
      readFileSync(env, 'utf8')
        .split('\n')
        .filter((l) => /^[A-Z0-9_]+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).trim()]),
    );
    return join(CACHE, `k8s-${v.K8S_VERSION}-etcd-${v.ETCD_VERSION}`);
  }
  // versions.env absent (an installed copy without deploy/): the newest complete folder.
  const dirs = existsSync(CACHE)
    ? readdirSync(CACHE)
        .filter((d) => /^k8s-.*-etcd-/.test(d))
        .map((d) => join(CACHE, d))
        .filter((d) => KUBE_BINARIES.every((b) => existsSync(join(d, b))))
        .sort()
    : [];
  return dirs.at(-1);
}

/** Why the control plane cannot run here, or undefined if it can. */
export function kubeUnavailableReason(): string | undefined {
  const dir = kubeBinDir();
  const missing = dir ? KUBE_BINARIES.filter((b) => !existsSync(join(dir, b))) : [...KUBE_BINARIES];
  if (missing.length === 0) return undefined;
  return `Kubernetes binaries missing (${missing.join(', ')} in ${dir ?? `${CACHE}/k8s-*`}): build them with scripts/k8s-bins.sh`;
}

/**
 * The YAML objects of a folder of the repository (every document of every .yaml file, in file
 * order), e.g. 'deploy/crds' or 'third_party/crds'.
 */
export function repoObjects(
  sub: string,
  filter: (file: string) => boolean = () => true,
): Record<string, unknown>[] {
  const d = join(repoRoot(), sub);
  if (!existsSync(d)) return [];
  return readdirSync(d)
    .filter((f) => f.endsWith('.yaml') && filter(f))
    .sort()
    .flatMap((f) =>
      parseAllDocuments(readFileSync(join(d, f), 'utf8'))
        .map((doc) => doc.toJS() as Record<string, unknown> | null)
        .filter((o): o is Record<string, unknown> => o !== null && typeof o === 'object'),
    );
}

/** POSTs each CRD (an existing one is replaced), then waits until every one is Established. */
export async function installCrds(
  client: KubeClient,
  crds: readonly Record<string, unknown>[],
): Promise<void> {
  const path = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
  for (const c of crds) {
    const name = (c.metadata as { name: string }).name;
    try {
      await client.request({ method: 'POST', path, body: c });
    } catch (err) {
      if ((err as { status?: number }).status !== 409) throw err;
      const cur = await client.request<{ metadata: { resourceVersion: string } }>({
        method: 'GET',
        path: `${path}/${name}`,
      });
      const meta = { ...(c.metadata as object), resourceVersion: cur.metadata.resourceVersion };
      await client.request({ method: 'PUT', path: `${path}/${name}`, body: { ...c, metadata: meta } });
    }
  }
  const deadline = Date.now() + 30_000;
  for (const c of crds) {
    const name = (c.metadata as { name: string }).name;
    for (;;) {
      const got = await client.request<{ status?: { conditions?: { type: string; status: string }[] } }>({
        method: 'GET',
        path: `${path}/${name}`,
      });
      if (got.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True')) break;
      if (Date.now() > deadline)
        throw new Error(`CRD ${name} not Established in 30 s: ${JSON.stringify(got.status)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
