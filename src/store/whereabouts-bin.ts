// Where Whereabouts' CNI IPAM plugin is: built by scripts/whereabouts-bin.sh into
// /var/cache/multinet/whereabouts-<WHEREABOUTS_VERSION>/whereabouts, the release pinned in
// deploy/whereabouts-bin/versions.env. The kube lab puts it in its CNI_PATH; its interop test and
// `npm run bench -- ipam-peer` run it. MULTINET_WHEREABOUTS_BIN=<file> names another binary.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './kube-bins.js';

const CACHE = process.env.MULTINET_BIN_CACHE ?? '/var/cache/multinet';

/** The pinned release ("0.9.2"), from versions.env. */
export function whereaboutsVersion(): string | undefined {
  const env = join(repoRoot(), 'deploy', 'whereabouts-bin', 'versions.env');
  if (!existsSync(env)) return undefined;
  return /^WHEREABOUTS_VERSION=(\S+)$/m.exec(readFileSync(env, 'utf8'))?.[1];
}

/** Path of the plugin binary (which may not exist). */
export function whereaboutsBinary(): string {
  if (process.env.MULTINET_WHEREABOUTS_BIN) return process.env.MULTINET_WHEREABOUTS_BIN;
  return join(CACHE, `whereabouts-${whereaboutsVersion() ?? 'unknown'}`, 'whereabouts');
}

/** Why the real Whereabouts cannot run here, or undefined if it can. */
export function whereaboutsUnavailableReason(): string | undefined {
  const bin = whereaboutsBinary();
  if (existsSync(bin)) return undefined;
  return `the Whereabouts plugin ${bin} is not built: run scripts/whereabouts-bin.sh (needs Go)`;
}
