// The lab needs iproute2 and nftables; say what to install (or install it, as root).
import { spawnSync } from 'node:child_process';

const TOOLS: Record<string, string> = { ip: 'iproute2', nft: 'nftables', ping: 'iputils-ping' };

export async function requireTools(): Promise<void> {
  const missing = Object.entries(TOOLS).filter(
    ([bin]) => spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0,
  );
  if (missing.length === 0) return;
  const pkgs = missing.map(([, p]) => p);
  if (process.getuid?.() === 0) {
    process.stderr.write(`installing ${pkgs.join(' ')}\n`);
    const r = spawnSync('apt-get', ['install', '-y', '-qq', ...pkgs], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (r.status === 0) return;
  }
  throw new Error(
    `missing tools: ${missing.map(([b]) => b).join(', ')}; install them with: apt-get install ${pkgs.join(' ')}`,
  );
}
