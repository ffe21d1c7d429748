// The command lines of etcd and kube-apiserver for a control plane on loopback (RBAC on, the
// certificates of kube-pki.ts), and the wait for the API server's /readyz. Used by the kube lab
// (detached daemons) and the tests' throwaway control plane (child processes).
import { join } from 'node:path';
import type { KubeClient } from './kube-client.js';

export interface ControlPlaneSpec {
  /** Folder of the certificates (kube-pki.ts). */
  readonly pkiDir: string;
  readonly etcdDataDir: string;
  readonly etcdPort: number;
  readonly etcdPeerPort: number;
  readonly apiPort: number;
  readonly serviceRange: string;
  /** etcd member name. */
  readonly name: string;
}

export const etcdEndpoint = (s: ControlPlaneSpec): string => `127.0.0.1:${s.etcdPort}`;

export function etcdArgs(s: ControlPlaneSpec): string[] {
  const client = `http://${etcdEndpoint(s)}`;
  const peer = `http://127.0.0.1:${s.etcdPeerPort}`;
  return [
    `--name=${s.name}`,
    `--data-dir=${s.etcdDataDir}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=${s.name}=${peer}`,
    // Throwaway data on one machine: fsync buys nothing and costs most of etcd's write latency.
    '--unsafe-no-fsync',
    '--log-level=error',
  ];
}

export function apiServerArgs(s: ControlPlaneSpec): string[] {
  const p = (f: string): string => join(s.pkiDir, f);
  return [
    `--etcd-servers=http://${etcdEndpoint(s)}`,
    `--cert-dir=${s.pkiDir}`,
    `--tls-cert-file=${p('apiserver.crt')}`,
    `--tls-private-key-file=${p('apiserver.key')}`,
    `--client-ca-file=${p('ca.crt')}`,
    `--secure-port=${s.apiPort}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--service-cluster-ip-range=${s.serviceRange}`,
    '--allow-privileged=true',
    '--authorization-mode=RBAC',
    '--service-account-issuer=https://kubernetes.default.svc',
    `--service-account-key-file=${p('sa.pub')}`,
    `--service-account-signing-key-file=${p('sa.key')}`,
    // No controller manager runs, so no namespace gets its "default" ServiceAccount: without this
    // admission plugin pods are admitted anyway (they mount no token; nothing here needs one).
    '--disable-admission-plugins=ServiceAccount',
    '-v=0',
  ];
}

/** Resolves once /readyz says ok; fails early when exited() says the server died. */
export async function waitApiServerReady(
  client: KubeClient,
  exited: () => string | undefined,
  timeoutMs = 90_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = exited();
    if (dead !== undefined) throw new Error(`kube-apiserver ${dead}`);
    try {
      if ((await client.text({ method: 'GET', path: '/readyz', timeoutMs: 5000 })).trim() === 'ok') return;
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`kube-apiserver not ready in ${timeoutMs / 1000} s: ${String(err)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
