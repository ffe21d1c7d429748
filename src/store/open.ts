// Store URLs select the backend:
//   memory://                          in-process, for tests
//   embedded:///abs/path/file.db       SQLite file (the default: DEFAULT_STORE_URL)
//   etcd://host:port[,host:port...]    etcd v3
//   kubernetes://                      a Kubernetes API server: $KUBECONFIG, else in-cluster
//                                      ServiceAccount credentials, else ~/.kube/config
//   kubernetes://?kubeconfig=/path[&context=name]   that kubeconfig (and context)
import { isAbsolute } from 'node:path';
import { EmbeddedStore, type EmbeddedStoreOptions } from './embedded.js';
import { EtcdStore, type EtcdStoreOptions } from './etcd.js';
import { credentialsFromKubeconfig, defaultKubeconfigPath } from './kube-client.js';
import { KubeStore, type KubeStoreOptions } from './kube.js';
import { MemoryStore } from './memory.js';
import { InvalidStoreInputError, type Store } from './types.js';

export const DEFAULT_STORE_URL = `embedded://${process.env.MULTINET_STATE_DIR ?? '/var/lib/multinet'}/store.db`;

export interface OpenStoreOptions {
  readonly embedded?: EmbeddedStoreOptions;
  readonly etcd?: EtcdStoreOptions;
  readonly kubernetes?: KubeStoreOptions;
}

const HOST_PORT = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/;

/** Opens the store named by url (default: the embedded store, or $MULTINET_STORE if set). */
export async function openStore(url?: string, opts: OpenStoreOptions = {}): Promise<Store> {
  const u = url ?? process.env.MULTINET_STORE ?? DEFAULT_STORE_URL;
  const m = /^([a-z0-9]+):\/\/(.*)$/.exec(u);
  if (!m)
    throw new InvalidStoreInputError(
      `store URL ${JSON.stringify(u)}: expected memory://, embedded:///path, etcd://host:port or kubernetes://`,
    );
  const [, scheme, rest = ''] = m;
  switch (scheme) {
    case 'memory':
      if (rest !== '')
        throw new InvalidStoreInputError(`store URL ${JSON.stringify(u)}: memory:// takes no path`);
      return new MemoryStore();
    case 'embedded': {
      const path = decodeURIComponent(rest.split('?')[0] ?? '');
      if (!isAbsolute(path) || path.endsWith('/')) {
        throw new InvalidStoreInputError(
          `store URL ${JSON.stringify(u)}: embedded store needs an absolute file path (embedded:///var/lib/multinet/store.db)`,
        );
      }
      return new EmbeddedStore(path, opts.embedded);
    }
    case 'etcd': {
      const endpoints = rest.replace(/\/+$/, '').split(',');
      const bad = endpoints.find(
        (e) => !HOST_PORT.test(e) || Number(e.slice(e.lastIndexOf(':') + 1)) > 65535,
      );
      if (bad !== undefined || endpoints.length === 0) {
        throw new InvalidStoreInputError(
          `store URL ${JSON.stringify(u)}: endpoint ${JSON.stringify(bad ?? '')} is not host:port (etcd://127.0.0.1:2379[,host:port])`,
        );
      }
      return EtcdStore.connect(endpoints, opts.etcd);
    }
    case 'kubernetes': {
      // kubernetes:// or kubernetes://?kubeconfig=/path[&context=name]
      const q = /^\/?(?:\?(.*))?$/.exec(rest);
      const params = new URLSearchParams(q?.[1] ?? '');
      const unknown = [...params.keys()].find((k) => k !== 'kubeconfig' && k !== 'context');
      if (!q || unknown !== undefined)
        throw new InvalidStoreInputError(
          `store URL ${JSON.stringify(u)}: expected kubernetes:// or kubernetes://?kubeconfig=/path[&context=name] (the kubeconfig names the server)`,
        );
      const kubeconfig = params.get('kubeconfig');
      const context = params.get('context') ?? undefined;
      const credentials =
        kubeconfig !== null || context !== undefined
          ? credentialsFromKubeconfig(kubeconfig ?? defaultKubeconfigPath(), context)
          : undefined;
      return KubeStore.connect({ ...opts.kubernetes, ...(credentials ? { credentials } : {}) });
    }
    default:
      throw new InvalidStoreInputError(
        `store URL ${JSON.stringify(u)}: unknown scheme ${JSON.stringify(scheme)} (memory, embedded, etcd or kubernetes)`,
      );
  }
}
