// An in-memory stand-in for `ip netns exec NS nft ...`: it parses the subset of nft syntax the
// nft layer writes (tables, set/map/chain declarations, add/delete element, delete table), keeps
// tables and elements per namespace, applies each script all-or-nothing like nft does, answers
// `nft -j list ruleset`, and can be told to fail. `fakeNft()` is LinuxNft over it.
import type { RunOptions, RunResult, Runner } from '../util/exec.js';
import { LinuxNft } from './nft-linux.js';

interface FakeTable {
  chains: Set<string>;
  /** set/map name -> kind and elements (as written). */
  sets: Map<string, { kind: 'set' | 'map'; elems: Set<string> }>;
}
type FakeNs = Map<string, FakeTable>;

class ScriptError extends Error {}

function cloneNs(ns: FakeNs): FakeNs {
  const out: FakeNs = new Map();
  for (const [k, t] of ns) {
    const sets = new Map<string, { kind: 'set' | 'map'; elems: Set<string> }>();
    for (const [n, s] of t.sets) sets.set(n, { kind: s.kind, elems: new Set(s.elems) });
    out.set(k, { chains: new Set(t.chains), sets });
  }
  return out;
}

export class FakeNftKernel implements Runner {
  readonly namespaces = new Map<string, FakeNs>();
  /** Scripts written, per namespace, in order (tests look at what was sent). */
  readonly writes: { netns: string; script: string }[] = [];
  spawned = 0;
  private failures = 0;

  addNetns(name: string): void {
    if (!this.namespaces.has(name)) this.namespaces.set(name, new Map());
  }

  deleteNetns(name: string): void {
    this.namespaces.delete(name);
  }

  /** The next `n` writes fail (nothing applied), as a rejected nft transaction would. */
  failNextWrites(n = 1): void {
    this.failures = n;
  }

  /** Elements of a set as held (undefined: no such table/set). */
  elements(ns: string, family: string, table: string, set: string): string[] | undefined {
    const s = this.namespaces.get(ns)?.get(`${family} ${table}`)?.sets.get(set);
    return s ? [...s.elems].sort() : undefined;
  }

  /** Changes state behind the driver's back (as an admin with `nft` would). */
  tamper(ns: string, script: string): void {
    const cur = this.namespaces.get(ns);
    if (!cur) throw new Error(`no netns ${ns}`);
    this.namespaces.set(ns, apply(cur, script));
  }

  async run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    this.spawned++;
    // `nsenter --net=/run/netns/NS nft ...` (what LinuxNft runs) or `ip netns exec NS nft ...`.
    let ns: string;
    let nftArgs: readonly string[];
    if (cmd === 'nsenter' && args[0]?.startsWith('--net=/run/netns/') && args[1] === 'nft') {
      ns = args[0].slice('--net=/run/netns/'.length);
      nftArgs = args.slice(2);
    } else if (cmd === 'ip' && args[0] === 'netns' && args[1] === 'exec' && args[3] === 'nft') {
      ns = args[2]!;
      nftArgs = args.slice(4);
    } else return { code: 127, stdout: '', stderr: `fake nft: unsupported command ${cmd} ${args.join(' ')}` };
    const state = this.namespaces.get(ns);
    if (!state)
      return {
        code: 1,
        stdout: '',
        stderr: `nsenter: cannot open /run/netns/${ns}: No such file or directory`,
      };
    const rest = nftArgs.join(' ');
    if (rest === '-j list ruleset') return { code: 0, stdout: listJson(state), stderr: '' };
    if (rest !== '-f -') return { code: 1, stdout: '', stderr: `fake nft: unsupported arguments ${rest}` };
    if (this.failures > 0) {
      this.failures--;
      return { code: 1, stdout: '', stderr: 'Error: Could not process rule: injected failure' };
    }
    try {
      this.namespaces.set(ns, apply(state, opts.input ?? ''));
      this.writes.push({ netns: ns, script: opts.input ?? '' });
      return { code: 0, stdout: '', stderr: '' };
    } catch (e) {
      return { code: 1, stdout: '', stderr: `Error: ${(e as Error).message}` };
    }
  }
}

/** Applies a script to a copy; throws (leaving `ns` untouched) on the first error, like nft -f. */
function apply(ns: FakeNs, script: string): FakeNs {
  const next = cloneNs(ns);
  const lines = script.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    let m: RegExpMatchArray | null;
    if ((m = line.match(/^add table (\w+) (\w+)$/))) {
      if (!next.has(`${m[1]} ${m[2]}`)) next.set(`${m[1]} ${m[2]}`, { chains: new Set(), sets: new Map() });
    } else if ((m = line.match(/^delete table (\w+) (\w+)$/))) {
      if (!next.delete(`${m[1]} ${m[2]}`))
        throw new ScriptError(`delete table ${m[1]} ${m[2]}: No such file or directory`);
    } else if ((m = line.match(/^table (\w+) (\w+) \{$/))) {
      const key = `${m[1]} ${m[2]}`;
      const t = next.get(key) ?? { chains: new Set<string>(), sets: new Map() };
      next.set(key, t);
      // Declarations at depth 1 of the table block; braces counted to find its end.
      let depth = 1;
      while (depth > 0) {
        i++;
        if (i >= lines.length) throw new ScriptError(`table ${key}: unterminated block`);
        const l = lines[i]!;
        const d = l.match(/^\s*(set|map|chain)\s+([A-Za-z0-9_]+)\s*\{/);
        if (d && depth === 1) {
          if (d[1] === 'chain') t.chains.add(d[2]!);
          else if (!t.sets.has(d[2]!)) t.sets.set(d[2]!, { kind: d[1] as 'set' | 'map', elems: new Set() });
        }
        depth += (l.match(/\{/g) ?? []).length - (l.match(/\}/g) ?? []).length;
      }
    } else if ((m = line.match(/^(add|delete) element (\w+) (\w+) (\w+) \{ (.*) \}$/))) {
      const t = next.get(`${m[2]} ${m[3]}`);
      const s = t?.sets.get(m[4]!);
      if (!s) throw new ScriptError(`${m[1]} element ${m[2]} ${m[3]} ${m[4]}: No such file or directory`);
      for (const raw of m[5]!.split(', ')) {
        const e = raw.trim();
        if (m[1] === 'add') {
          // Like nft: adding an existing key with another value is an error.
          const key = e.split(' : ')[0]!;
          const clash = [...s.elems].find((x) => x.split(' : ')[0] === key && x !== e);
          if (clash) throw new ScriptError(`add element ${m[4]} { ${e} }: File exists`);
          s.elems.add(e);
        } else if (!s.elems.delete(e))
          throw new ScriptError(`delete element ${m[4]} { ${e} }: No such file or directory`);
      }
    } else throw new ScriptError(`fake nft: cannot parse line ${i + 1}: ${line}`);
  }
  return next;
}

function listJson(ns: FakeNs): string {
  const items: unknown[] = [{ metainfo: { version: 'fake', json_schema_version: 1 } }];
  for (const [key, t] of ns) {
    const [family, name] = key.split(' ') as [string, string];
    items.push({ table: { family, name } });
    for (const [s, v] of t.sets) {
      const elem = [...v.elems].map((e) => (v.kind === 'map' ? e.split(' : ') : e));
      items.push({ [v.kind]: { family, table: name, name: s, elem } });
    }
    for (const c of t.chains) items.push({ chain: { family, table: name, name: c } });
  }
  return JSON.stringify({ nftables: items });
}

/** The nft layer over the in-memory kernel. */
export function fakeNft(): { nft: LinuxNft; kernel: FakeNftKernel } {
  const kernel = new FakeNftKernel();
  return { nft: new LinuxNft(kernel), kernel };
}
