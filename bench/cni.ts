// CNI ADD/DEL from exec to result: the plugin's own cost (node start, config and env checks, one
// socket round trip) against a fake agent that answers at once. Baseline: `node -e ''` startup.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeCniHandler } from '../src/agent/cni-fake-handler.js';
import { startCniServer } from '../src/agent/cni-server.js';
import { bundlePlugin, runProcess } from '../src/cni/bundle.js';

const BURST = 30;

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

function ms(n: number): string {
  return n.toFixed(1);
}

async function timed(f: () => Promise<void>): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

/** `--runs=N`: single-exec runs per command (default 50). */
const SHIM = fileURLToPath(new URL('../multinet-cni', import.meta.url));

export async function run(args: readonly string[]): Promise<string> {
  const SINGLE_RUNS = Number(args.find((a) => a.startsWith('--runs='))?.slice(7) ?? 50);
  const dir = mkdtempSync(join(tmpdir(), 'mn-bench-cni-'));
  const sock = join(dir, 'cni.sock');
  const handler = new FakeCniHandler();
  const server = await startCniServer(sock, handler);
  try {
    const { file } = await bundlePlugin(dir);
    const conf = JSON.stringify({
      cniVersion: '1.0.0',
      name: 'network-blue',
      type: 'calico',
      ipam: { type: 'whereabouts' },
      dataplane_options: { network_name: 'blue' },
    });
    const env = (command: string, id: string) => ({
      PATH: process.env.PATH,
      CNI_COMMAND: command,
      CNI_CONTAINERID: id,
      CNI_NETNS: '/var/run/netns/bench',
      CNI_IFNAME: 'eth1',
      CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=bench',
      CNI_PATH: '/usr/lib/cni',
      MULTINET_CNI_SOCKET: sock,
    });
    type Exec = (command: string, id: string) => Promise<void>;
    const execWith =
      (cmd: string, argv: string[]): Exec =>
      async (command, id) => {
        const r = await runProcess(cmd, argv, env(command, id), conf);
        if (r.code !== 0) throw new Error(`CNI ${command} ${id} failed: ${r.stdout} ${r.stderr}`);
      };

    const baseline: number[] = [];
    for (let i = 0; i < SINGLE_RUNS; i++)
      baseline.push(
        await timed(
          async () => void (await runProcess(process.execPath, ['-e', ''], { PATH: process.env.PATH }, '')),
        ),
      );

    const measure = async (exec: Exec, tag: string) => {
      await exec('ADD', `${tag}warm`); // page cache, agent's first request
      await exec('DEL', `${tag}warm`);
      const single = { ADD: [] as number[], DEL: [] as number[] };
      for (let i = 0; i < SINGLE_RUNS; i++) single.ADD.push(await timed(() => exec('ADD', `${tag}s${i}`)));
      for (let i = 0; i < SINGLE_RUNS; i++) single.DEL.push(await timed(() => exec('DEL', `${tag}s${i}`)));
      const burst = { ADD: { each: [] as number[], total: 0 }, DEL: { each: [] as number[], total: 0 } };
      for (const cmd of ['ADD', 'DEL'] as const) {
        burst[cmd].total = await timed(async () => {
          burst[cmd].each = await Promise.all(
            Array.from({ length: BURST }, (_, i) => timed(() => exec(cmd, `${tag}b${i}`))),
          );
        });
      }
      if (handler.attachments.size !== 0)
        throw new Error(`fake agent still holds ${handler.attachments.size} attachments`);
      return { single, burst };
    };

    const rows: string[] = [];
    const row = (what: string, xs: number[], total?: number, target = '') => {
      const s = [...xs].sort((a, b) => a - b);
      rows.push(
        `| ${what} | ${xs.length} | ${ms(pct(s, 50))} | ${ms(pct(s, 99))} | ${total === undefined ? '' : ms(total)} | ${target} |`,
      );
    };
    row("baseline: `node -e ''`", baseline);
    const summary: string[] = [];
    const variants: [string, Exec][] = [];
    if (existsSync(SHIM))
      variants.push(['native shim `dist/multinet-cni` (what the runtime execs)', execWith(SHIM, [])]);
    variants.push(['Node bundle `dist/multinet-cni.mjs`', execWith(process.execPath, [file])]);
    for (const [name, exec] of variants) {
      const { single, burst } = await measure(exec, name.startsWith('native') ? 'n' : 'j');
      row(`${name}: ADD, one at a time`, single.ADD, undefined, 'p50 <= 50 ms');
      row(`${name}: DEL, one at a time`, single.DEL, undefined, 'p50 <= 50 ms');
      row(`${name}: ADD, burst of ${BURST}`, burst.ADD.each, burst.ADD.total, 'all within 1500 ms');
      row(`${name}: DEL, burst of ${BURST}`, burst.DEL.each, burst.DEL.total, 'all within 1500 ms');
      const p50Add = pct(
        [...single.ADD].sort((x, y) => x - y),
        50,
      );
      summary.push(
        `${name}: single ADD p50 ${ms(p50Add)} ms (${p50Add <= 50 ? 'within' : 'OVER'} 50 ms); ` +
          `burst of ${BURST}: ADD ${burst.ADD.total <= 1500 ? 'within' : 'OVER'} 1.5 s, DEL ${burst.DEL.total <= 1500 ? 'within' : 'OVER'} 1.5 s.`,
      );
    }
    return [
      'Exec of the CNI plugin to its exit, cniVersion 1.0.0, against a fake agent that answers at once: the',
      "plugin path's own overhead. The native shim forwards env and stdin to the agent, which runs the same",
      'plugin code in its warm process; the Node bundle runs it in a fresh Node process.',
      '',
      '| case | runs | p50 ms | p99 ms | wall ms | target |',
      '|---|---|---|---|---|---|',
      ...rows,
      '',
      ...summary.map((x) => `- ${x}`),
      `- Node ${process.version}, 2 cores.`,
    ].join('\n');
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
