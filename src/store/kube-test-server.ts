// Starts a throwaway Kubernetes control plane on loopback for tests: etcd and kube-apiserver (built
// by scripts/k8s-bins.sh into /var/cache/multinet/k8s-<K8S_VERSION>-etcd-<ETCD_VERSION>/) on free
// ports, certificates made with openssl in a temporary directory (serving cert for 127.0.0.1, a
// client CA, an admin client cert in O=system:masters, a ServiceAccount signing key), our CRDs
// installed through the API and Established, and a kubeconfig written. stop() kills both and
// removes the directory. MULTINET_K8S_BINS=<dir> names another binaries folder.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { stringify as stringifyYaml, parse as parseYaml } from 'yaml';
import { freePort } from './etcd-test-server.js';
import { KubeClient, type KubeCredentials } from './kube-client.js';
import { storeCrds } from './kube-crds.js';

const BINARIES = ['etcd', 'kube-apiserver', 'kubectl'] as const;
const CACHE = process.env.MULTINET_BIN_CACHE ?? '/var/cache/multinet';

function repoRoot(): string {
  // dist/src/store/x.js or src/store/x.ts -> the folder holding package.json
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
  // versions.env not on this branch yet: the newest complete folder in the cache.
  const dirs = existsSync(CACHE)
    ? readdirSync(CACHE)
        .filter((d) => /^k8s-.*-etcd-/.test(d))
        .map((d) => join(CACHE, d))
        .filter((d) => BINARIES.every((b) => existsSync(join(d, b))))
        .sort()
    : [];
  return dirs.at(-1);
}

/** Why the kube tests cannot run here, or undefined if they can. */
export function kubeUnavailableReason(): string | undefined {
  const dir = kubeBinDir();
  const missing = dir ? BINARIES.filter((b) => !existsSync(join(dir, b))) : [...BINARIES];
  if (missing.length === 0) return undefined;
  return `Kubernetes binaries missing (${missing.join(', ')} in ${dir ?? `${CACHE}/k8s-*`}): build them with scripts/k8s-bins.sh`;
}

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

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function makeCerts(dir: string): void {
  // -subj everywhere: openssl req would otherwise prompt.
  openssl(
    dir,
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-subj',
    '/CN=mn-test-ca',
    '-days',
    '2',
  );
  writeFileSync(
    join(dir, 'ca.cnf'),
    '[req]\ndistinguished_name=dn\n[dn]\n[srv]\nsubjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\n[cli]\nextendedKeyUsage=clientAuth\n',
  );
  const sign = (name: string, subj: string, ext: string) => {
    openssl(
      dir,
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      subj,
    );
    openssl(
      dir,
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      `${name}.crt`,
      '-extfile',
      'ca.cnf',
      '-extensions',
      ext,
    );
  };
  sign('apiserver', '/CN=localhost', 'srv');
  sign('admin', '/O=system:masters/CN=admin', 'cli');
  openssl(dir, 'genrsa', '-out', 'sa.key', '2048');
  openssl(dir, 'rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub');
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
    const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdEndpoint = `127.0.0.1:${etcdPort}`;
    const peer = `http://127.0.0.1:${peerPort}`;
    const etcd = run('etcd', [
      '--name=mn-kube',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=http://${etcdEndpoint}`,
      `--advertise-client-urls=http://${etcdEndpoint}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=mn-kube=${peer}`,
      '--unsafe-no-fsync',
      '--log-level=error',
    ]);
    const apiArgs = [
      `--etcd-servers=http://${etcdEndpoint}`,
      `--cert-dir=${dir}`,
      `--tls-cert-file=${join(dir, 'apiserver.crt')}`,
      `--tls-private-key-file=${join(dir, 'apiserver.key')}`,
      `--client-ca-file=${join(dir, 'ca.crt')}`,
      `--secure-port=${apiPort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      '--service-cluster-ip-range=10.0.0.0/24',
      '--allow-privileged=true',
      '--authorization-mode=RBAC',
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      '--disable-admission-plugins=ServiceAccount',
      '-v=0',
    ];
    let api = run('kube-apiserver', apiArgs);
    const credentials: KubeCredentials = {
      server: `https://127.0.0.1:${apiPort}`,
      ca: readFileSync(join(dir, 'ca.crt')),
      cert: readFileSync(join(dir, 'admin.crt')),
      key: readFileSync(join(dir, 'admin.key')),
      source: `test kube-apiserver in ${dir}`,
    };
    const client = new KubeClient(credentials, 5000);
    const untilReady = async (): Promise<void> => {
      const deadline = Date.now() + 90_000;
      for (;;) {
        if (api.exitCode !== null) throw new Error(`kube-apiserver exited with ${api.exitCode}: ${log}`);
        try {
          if ((await client.text({ method: 'GET', path: '/readyz' })).trim() === 'ok') return;
        } catch (err) {
          if (Date.now() > deadline)
            throw new Error(`kube-apiserver not ready in 90 s: ${String(err)}\n${log}`);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    try {
      await untilReady();
      await installCrds(client, [...storeCrds(), ...repoCrds()]);
    } catch (err) {
      client.close();
      throw err;
    }
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      stringifyYaml({
        apiVersion: 'v1',
        kind: 'Config',
        'current-context': 'mn-test',
        clusters: [
          {
            name: 'mn-test',
            cluster: {
              server: credentials.server,
              'certificate-authority-data': credentials.ca!.toString('base64'),
            },
          },
        ],
        users: [
          {
            name: 'admin',
            user: {
              'client-certificate-data': credentials.cert!.toString('base64'),
              'client-key-data': credentials.key!.toString('base64'),
            },
          },
        ],
        contexts: [{ name: 'mn-test', context: { cluster: 'mn-test', user: 'admin' } }],
      }),
    );
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

/** The CRDs in deploy/crds/ that are not ours (the Network CRD). */
function repoCrds(): Record<string, unknown>[] {
  const d = join(repoRoot(), 'deploy', 'crds');
  if (!existsSync(d)) return [];
  return readdirSync(d)
    .filter((f) => f.endsWith('.yaml') && !f.startsWith('multinet.projectcalico.org_'))
    .map((f) => parseYaml(readFileSync(join(d, f), 'utf8')) as Record<string, unknown>);
}

/** POSTs each CRD, then waits until every one is Established. */
export async function installCrds(
  client: KubeClient,
  crds: readonly Record<string, unknown>[],
): Promise<void> {
  const path = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
  for (const c of crds) await client.request({ method: 'POST', path, body: c });
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
