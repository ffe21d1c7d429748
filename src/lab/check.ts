// `lab check`: the connectivity the model promises (same network: reachable; different network:
// not), probed for real between every pair of pod interfaces, printed as a matrix.
import type { Runner } from '../util/exec.js';
import { isMemifName } from '../dataplane/naming.js';

export interface Endpoint {
  readonly pod: string;
  readonly ifName: string;
  readonly netns: string;
  readonly network: string;
  readonly ip: string;
}

/** Does the model (policies) allow an ICMP echo from one endpoint to another of the same network? */
export type PolicyOracle = (from: Endpoint, to: Endpoint) => boolean;

export type Verdict = 'reach' | 'block';

export interface PairResult {
  readonly from: Endpoint;
  readonly to: Endpoint;
  readonly expected: Verdict;
  /** undefined when not probed (self, same pod). */
  readonly seen?: Verdict;
  /** `twin`: the target pod holds the same address in the source's network too (cannot tell apart). */
  /** memif: a shared-memory interface, not probed: ping cannot leave through one, and a target is
   * probed only while a responder answers on it (see memif-responders.ts). */
  readonly note?: 'self' | 'same pod' | 'twin' | 'memif';
  /**
   * The address also exists in the source's own network or pod: a reply would come from that
   * other holder, so the pair is probed alone and judged by the target's ICMP echo counter.
   */
  readonly ambiguous?: boolean;
  /** Expected blocked because a policy denies it (not because of network isolation). */
  readonly byPolicy?: boolean;
}

export function label(e: Endpoint): string {
  return `${e.pod}/${e.ifName}`;
}

/** The pairs to probe, with what the model expects. */
export function expectations(
  endpoints: readonly Endpoint[],
  policy: PolicyOracle = () => true,
  memifAnswers: (e: Endpoint) => boolean = () => false,
): PairResult[] {
  const out: PairResult[] = [];
  for (const from of endpoints) {
    for (const to of endpoints) {
      const sameNet = from.network === to.network;
      const expected: Verdict = sameNet ? 'reach' : 'block';
      if (from === to) {
        out.push({ from, to, expected, note: 'self' });
        continue;
      }
      // Between two interfaces of one pod the kernel delivers locally, never through the network.
      if (from.netns === to.netns) {
        out.push({ from, to, expected, note: 'same pod' });
        continue;
      }
      const memifTarget = isMemifName(to.ifName);
      if (isMemifName(from.ifName) || (memifTarget && !memifAnswers(to))) {
        out.push({ from, to, expected, note: 'memif' });
        continue;
      }
      if (sameNet && !policy(from, to)) {
        out.push({ from, to, expected: 'block', byPolicy: true });
        continue;
      }
      // Others holding the target's address where the probe could end: in the source's network,
      // or in the source pod itself (delivered locally).
      const holders =
        from.network === to.network
          ? []
          : endpoints.filter(
              (e) => e !== to && e.ip === to.ip && (e.network === from.network || e.netns === from.netns),
            );
      if (holders.some((e) => e.netns === to.netns)) {
        out.push({ from, to, expected, note: 'twin' });
        continue;
      }
      const ambiguous = holders.length > 0;
      // The echo counter that settles an ambiguous pair is the kernel's: a memif has none.
      if (ambiguous && memifTarget) {
        out.push({ from, to, expected, note: 'memif' });
        continue;
      }
      out.push(ambiguous ? { from, to, expected, ambiguous } : { from, to, expected });
    }
  }
  return out;
}

/** Ping from the source interface's own address: the pod's rules pick that interface's network. */
async function probe(runner: Runner, from: Endpoint, to: Endpoint): Promise<Verdict> {
  const family = to.ip.includes(':') ? '-6' : '-4';
  const r = await runner.run(
    'ip',
    ['netns', 'exec', from.netns, 'ping', family, '-c', '1', '-W', '1', '-I', from.ip, to.ip],
    { timeoutMs: 5000 },
  );
  return r.code === 0 ? 'reach' : 'block';
}

/** Echo requests received by a pod (its own netns counters). */
async function inEchos(runner: Runner, netns: string, family: 4 | 6): Promise<number> {
  const file = family === 4 ? '/proc/net/snmp' : '/proc/net/snmp6';
  const r = await runner.run('ip', ['netns', 'exec', netns, 'cat', file], { timeoutMs: 5000 });
  if (r.code !== 0) throw new Error(`reading ICMP counters of ${netns}: ${r.stderr.trim()}`);
  if (family === 6) return Number(/^Icmp6InEchos\s+(\d+)/m.exec(r.stdout)?.[1] ?? NaN);
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('Icmp:'));
  const names = lines[0]?.split(/\s+/) ?? [];
  const values = lines[1]?.split(/\s+/) ?? [];
  return Number(values[names.indexOf('InEchos')] ?? NaN);
}

/** An ambiguous pair, probed while nothing else runs: did the echo reach this very target? */
async function probeByCounter(runner: Runner, from: Endpoint, to: Endpoint): Promise<Verdict> {
  const fam = to.ip.includes(':') ? 6 : 4;
  const before = await inEchos(runner, to.netns, fam);
  await probe(runner, from, to);
  return (await inEchos(runner, to.netns, fam)) > before ? 'reach' : 'block';
}

export async function runChecks(
  runner: Runner,
  pairs: readonly PairResult[],
  parallel = 16,
  retries = 2,
): Promise<PairResult[]> {
  const out: PairResult[] = [...pairs];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < out.length) {
      const i = next++;
      const p = out[i]!;
      if (p.note || p.ambiguous) continue;
      let seen = await probe(runner, p.from, p.to);
      // A first packet may be lost, and a pod attached a moment ago may not be known to the other
      // nodes' agents yet (they learn it through their watch): retry mismatches only, after a pause.
      for (let k = 0; k < retries && seen !== p.expected; k++) {
        await new Promise((r) => setTimeout(r, 300));
        seen = await probe(runner, p.from, p.to);
      }
      out[i] = { ...p, seen };
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  // Ambiguous pairs one at a time, after the others: the target's counter must see only this probe.
  for (const [i, p] of out.entries()) {
    if (!p.ambiguous) continue;
    let seen = await probeByCounter(runner, p.from, p.to);
    for (let k = 0; k < retries && seen !== p.expected; k++)
      seen = await probeByCounter(runner, p.from, p.to);
    out[i] = { ...p, seen };
  }
  return out;
}

export function mismatches(results: readonly PairResult[]): PairResult[] {
  return results.filter((r) => r.seen !== undefined && r.seen !== r.expected);
}

/** A matrix: rows are sources, columns destinations (numbered). */
export function formatMatrix(endpoints: readonly Endpoint[], results: readonly PairResult[]): string {
  if (endpoints.length === 0) return 'no running pod interfaces';
  const idx = new Map(endpoints.map((e, i) => [e, i]));
  const cell = new Map<string, string>();
  for (const r of results) {
    const sym =
      r.note === 'self' || r.note === 'same pod'
        ? '-'
        : r.note === 'memif'
          ? 'm'
          : r.seen === undefined
            ? '?'
            : r.seen !== r.expected
              ? r.seen === 'reach'
                ? 'X'
                : 'x'
              : r.seen === 'reach'
                ? 'o'
                : r.byPolicy
                  ? 'p'
                  : '.';
    cell.set(`${idx.get(r.from)}:${idx.get(r.to)}`, sym);
  }
  const names = endpoints.map((e, i) => `${String(i + 1).padStart(2)} ${label(e)} ${e.network} ${e.ip}`);
  const w = Math.max(...names.map((n) => n.length));
  const lines: string[] = [];
  lines.push(`${' '.repeat(w)}  ${endpoints.map((_, i) => String(i + 1).padStart(2)).join(' ')}`);
  endpoints.forEach((_, i) => {
    const row = endpoints.map((_, j) => (cell.get(`${i}:${j}`) ?? ' ').padStart(2)).join(' ');
    lines.push(`${names[i]!.padEnd(w)}  ${row}`);
  });
  lines.push('');
  lines.push(
    "o reachable, as expected   . unreachable (other network), as expected   p unreachable (policy), as expected\nX reachable but should not be   x unreachable but should be   ? not probed   - self or same pod\nm not probed: from a memif (ping cannot send through the pod's memif application), or to a memif no responder answered (see below)\n(each probe leaves from the source interface's own address; where that address also exists in the source's network, the target's echo counter decides)",
  );
  return lines.join('\n');
}
