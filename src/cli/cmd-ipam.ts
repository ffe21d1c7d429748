// `multinet ipam show|reconcile`: inspect address usage and free leaked reservations.
import type { Command } from 'commander';
import { attachmentLiveness, reconcile, usage } from '../ipam/reconcile.js';
import { validateNetworkName } from '../ipam/pool.js';
import { openStore } from '../store/open.js';

export function register(program: Command): void {
  const ipam = program.command('ipam').description('IP address management');

  ipam
    .command('show')
    .description('per network: size, used, free, and who holds which address')
    .option('--network <name>', 'only this network')
    .option('--store <url>', 'datastore URL (memory://, embedded:///path, etcd://host:port)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { network?: string; store?: string; json?: boolean }) => {
      if (opts.network !== undefined) validateNetworkName(opts.network);
      const store = await openStore(opts.store);
      try {
        const nets = await usage(store, opts.network);
        if (opts.json) {
          process.stdout.write(
            JSON.stringify(nets, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n',
          );
          return;
        }
        if (nets.length === 0) {
          process.stdout.write(
            opts.network ? `network ${opts.network}: no pool and no allocations\n` : 'no networks\n',
          );
          return;
        }
        for (const n of nets) {
          process.stdout.write(
            `network ${n.network}: size ${n.size ?? '?'}, used ${n.used}, free ${n.free ?? '?'}${n.note ? ` (${n.note})` : ''}\n`,
          );
          for (const h of n.holders) {
            process.stdout.write(
              `  ${h.address.padEnd(24)} ${h.podNamespace}/${h.podName} ${h.ifName} container ${h.containerId} since ${new Date(h.createdAt).toISOString()}\n`,
            );
          }
        }
      } finally {
        await store.close();
      }
    });

  ipam
    .command('reconcile')
    .description(
      'free reservations whose pod interface has no Attachment record and that are older than the grace period',
    )
    .option('--store <url>', 'datastore URL (memory://, embedded:///path, etcd://host:port)')
    .option('--grace <seconds>', 'never free a reservation younger than this', '300')
    .option('--network <name>', 'only this network')
    .action(async (opts: { store?: string; grace: string; network?: string }) => {
      const grace = Number(opts.grace);
      if (!Number.isFinite(grace) || grace < 0)
        throw new Error(`--grace ${JSON.stringify(opts.grace)}: must be a number of seconds >= 0`);
      if (opts.network !== undefined) validateNetworkName(opts.network);
      const store = await openStore(opts.store);
      try {
        const isLive = await attachmentLiveness(store);
        const r = await reconcile(store, {
          isLive,
          graceMs: grace * 1000,
          ...(opts.network ? { network: opts.network } : {}),
        });
        for (const f of r.freed) {
          process.stdout.write(
            `freed ${f.network} ${f.address} (was ${f.podNamespace}/${f.podName} ${f.ifName} container ${f.containerId})\n`,
          );
        }
        process.stdout.write(
          `reconcile: freed ${r.freed.length}, dropped ${r.droppedAllocations.length} stale allocation records, kept ${r.kept}\n`,
        );
      } finally {
        await store.close();
      }
    });
}
