// Certificates, keys and kubeconfigs for a control plane on loopback, made with openssl: a CA, the
// API server's serving certificate (127.0.0.1, ::1, localhost), client certificates (the user is
// the CN, its groups the O fields, as kube-apiserver reads them) and a ServiceAccount signing key.
// Used by the kube lab and the tests' throwaway control plane.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Subject fields are our own constants or checked names; '/' and '=' would change the subject. */
function subjectPart(s: string): string {
  if (!/^[A-Za-z0-9:._@-]+$/.test(s))
    throw new Error(`certificate subject ${JSON.stringify(s)}: unsupported characters`);
  return s;
}

/** ca.{crt,key}, apiserver.{crt,key} and sa.{key,pub} in dir. */
export function makeControlPlanePki(dir: string, days = 30): void {
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
    '/CN=multinet-ca',
    '-days',
    String(days),
  );
  writeFileSync(
    join(dir, 'ca.cnf'),
    '[req]\ndistinguished_name=dn\n[dn]\n[srv]\nsubjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\n[cli]\nextendedKeyUsage=clientAuth\n',
  );
  signCert(dir, 'apiserver', '/CN=localhost', 'srv', days);
  openssl(dir, 'genrsa', '-out', 'sa.key', '2048');
  openssl(dir, 'rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub');
}

function signCert(dir: string, name: string, subj: string, ext: 'srv' | 'cli', days: number): void {
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
    String(days),
    '-out',
    `${name}.crt`,
    '-extfile',
    'ca.cnf',
    '-extensions',
    ext,
  );
}

/** <name>.{crt,key}: a client certificate for user `user` in `groups`, signed by dir's CA. */
export function makeClientCert(
  dir: string,
  name: string,
  user: string,
  groups: readonly string[] = [],
  days = 30,
): void {
  const subj = [...groups.map((g) => `/O=${subjectPart(g)}`), `/CN=${subjectPart(user)}`].join('');
  signCert(dir, name, subj, 'cli', days);
}

export interface KubeconfigSpec {
  readonly server: string;
  readonly ca: Buffer;
  readonly user: string;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly token?: string;
  readonly context?: string;
}

/** A kubeconfig with one cluster, user and context, credentials inline. */
export function kubeconfigYaml(s: KubeconfigSpec): string {
  const ctx = s.context ?? 'multinet';
  const user: Record<string, string> = {};
  if (s.cert) user['client-certificate-data'] = s.cert.toString('base64');
  if (s.key) user['client-key-data'] = s.key.toString('base64');
  if (s.token) user.token = s.token;
  return stringifyYaml({
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': ctx,
    clusters: [
      { name: ctx, cluster: { server: s.server, 'certificate-authority-data': s.ca.toString('base64') } },
    ],
    users: [{ name: s.user, user }],
    contexts: [{ name: ctx, context: { cluster: ctx, user: s.user } }],
  });
}

/** Writes the kubeconfig of client certificate <name> (made by makeClientCert) to path, mode 0600. */
export function writeCertKubeconfig(
  dir: string,
  name: string,
  server: string,
  path: string,
  context?: string,
): void {
  writeFileSync(
    path,
    kubeconfigYaml({
      server,
      ca: readFileSync(join(dir, 'ca.crt')),
      user: name,
      cert: readFileSync(join(dir, `${name}.crt`)),
      key: readFileSync(join(dir, `${name}.key`)),
      ...(context ? { context } : {}),
    }),
    { mode: 0o600 },
  );
}
