// Starts a throwaway Kubernetes control plane on loopback for tests: etcd and kube-apiserver (built
// by scripts/k8s-bins.sh into /var/cache/multinet/k8s-<K8S_VERSION>-etcd-<ETCD_VERSION>/) on free
// ports, certificates made with openssl in a temporary directory (serving cert for 127.0.0.1, a
// client CA, an admin client cert in O=system:masters, a ServiceAccount signing key), our CRDs
// installed through the API and Established, and a kubeconfig written. stop() kills both and
// removes the directory. MULTINET_K8S_BINS=<dir> names another binaries folder.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { freePort } from './etcd-test-server.js';
import { KubeClient, type KubeCredentials } from './kube-client.js';
import { storeCrds } from './kube-crds.js';
import { repoObjects, installCrds, kubeBinDir, kubeUnavailableReason } from './kube-bins.js';
import { makeClientCert, makeControlPlanePki, writeCertKubeconfig } from './kube-pki.js';
import {
  apiServerArgs,
  etcdArgs,
  etcdEndpoint as endpointOf,
  waitApiServerReady,
  type ControlPlaneSpec,
} from './kube-control-plane.js';

export { installCrds, kubeBinDir, kubeUnavailableReason };

export interface TestKube {
  readonly kubeconfig: string;
  readonly credentials: KubeCredentials;
  /** Process ids of the API server and its etcd (e.g. for a benchmark's CPU accounting). */
  readonly pids: { readonly apiserver: number; readonly etcd: number };
  /** The etcd under the API server (host:port), for compaction in tests. */
  readonly etcdEndpoint: string;
  /** Compacts the API server's etcd up to revision. */
  compact(revision: string): Promise<void>;
  /** kill -9 of kube-apiserver (etcd keeps running); resolves once it exited. */
  killApiServer(): Promise<void>;
  /** Starts kube-apiserver again on the same etcd, port and certificates; resolves once ready. */
  startApiServer(): Promise<void>;
  stop(): Promise<void>;
}

/** The tests' certificates: the control plane's, and admin.{crt,key} in O=system:masters. */
export function makeCerts(dir: string): void {
  makeControlPlanePki(dir, 2);
  makeClientCert(dir, 'admin', 'admin', ['system:masters'], 2);
}

export async function startTestKube(): Promise<TestKube> {
  const reason = kubeUnavailableReason();
  if (reason) throw new Error(reason);
  const bin = kubeBinDir()!;
  const dir = mkdtempSync(join(tmpdir(), 'mn-kube-'));
  const children: ChildProcess[] = [];
  let log = '';
  const run = (name: string, args: string[]): ChildProcess => {
    const c = spawn(join(bin, name), args, { stdio: ['ignore', 'ignore', 'pipe'] });
    c.stderr?.on('data', (b: Buffer) => (log = (log + b.toString()).slice(-6000)));
    children.push(c);
    return c;
  };
  const stop = async (): Promise<void> => {
    for (const c of children.reverse()) {
      if (c.exitCode !== null || c.signalCode !== null) continue;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    makeCerts(dir);
    const spec: ControlPlaneSpec = {
      pkiDir: dir,
      etcdDataDir: join(dir, 'etcd'),
      etcdPort: await freePort(),
      etcdPeerPort: await freePort(),
      apiPort: await freePort(),
      serviceRange: '10.0.0.0/24',
      name: 'mn-kube',
    };
    const etcdEndpoint = endpointOf(spec);
    const etcd = run('etcd', etcdArgs(spec));
    const apiArgs = apiServerArgs(spec);
    let api = run('kube-apiserver', apiArgs);
    const credentials: KubeCredentials = {
      server: `https://127.0.0.1:${spec.apiPort}`,
      ca: readFileSync(join(dir, 'ca.crt')),
      cert: readFileSync(join(dir, 'admin.crt')),
      key: readFileSync(join(dir, 'admin.key')),
      source: `test kube-apiserver in ${dir}`,
    };
    const client = new KubeClient(credentials, 5000);
    const untilReady = (): Promise<void> =>
      waitApiServerReady(client, () =>
        api.exitCode !== null ? `exited with ${api.exitCode}: ${log}` : undefined,
      ).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}\n${log}`);
      });
    try {
      await untilReady();
      await installCrds(client, [
        ...storeCrds(),
        ...repoObjects('deploy/crds', (f) => !f.startsWith('multinet.projectcalico.org_')),
      ]);
    } catch (err) {
      client.close();
      throw err;
    }
    const kubeconfig = join(dir, 'kubeconfig');
    writeCertKubeconfig(dir, 'admin', credentials.server, kubeconfig, 'mn-test');
    return {
      kubeconfig,
      credentials,
      pids: { apiserver: api.pid ?? 0, etcd: etcd.pid ?? 0 },
      etcdEndpoint,
      compact: async (revision) => {
        const e = new Etcd3({ hosts: `http://${etcdEndpoint}` });
        try {
          await e.kv.compact({ revision, physical: true });
        } finally {
          e.close();
        }
      },
      killApiServer: async () => {
        if (api.exitCode !== null || api.signalCode !== null) return;
        const exited = new Promise((r) => api.once('exit', r));
        api.kill('SIGKILL');
        await exited;
      },
      startApiServer: async () => {
        api = run('kube-apiserver', apiArgs);
        await untilReady();
      },
      stop: async () => {
        client.close();
        await stop();
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * For test files: undefined when the kube tests can run; otherwise registers one test that FAILS
 * in CI ($CI set) or skips with the reason elsewhere, and returns the reason.
 */
export function kubeTestsBlocked(
  name: string,
  test: (name: string, fn: (t: { skip(msg: string): void }) => void) => unknown,
): string | undefined {
  const why = kubeUnavailableReason();
  if (!why) return undefined;
  if (process.env.CI) {
    test(name, () => {
      throw new Error(why);
    });
  } else {
    console.log(`# ${name}: skipped: ${why} (in CI this fails)`);
    test(name, (t) => t.skip(why));
  }
  return why;
}
