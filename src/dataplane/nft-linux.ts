// The nftables layer: makes the `mn*` tables of each routing namespace match NftDesired with one
// `nft -f -` per namespace that needs a change. nft applies a file as one transaction, so a
// failed write leaves the namespace exactly as it was. What was last written is remembered per
// namespace, so an element change writes only that element; the kernel is re-read (`nft -j list
// ruleset`) on `full`, on first contact and after any failure.
import { shortHash } from '../util/names.js';
import type { Runner } from '../util/exec.js';
import type { NftDataplane, NftDesired, NftFamily, NftSyncReport, NftTableSpec } from './nft-types.js';

/** Tables we own: the `mn` prefix is the ownership mark; anything else is never touched. */
export const NFT_TABLE_RE = /^mn[a-z0-9_]{0,30}$/;
const NETNS_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const FAMILIES: readonly NftFamily[] = ['ip', 'ip6', 'inet'];
/**
 * An empty regular chain whose name carries a hash of the skeleton: nft 1.0.6's JSON output drops
 * table comments, and this is how a restarted agent tells whether the kernel's skeleton is current.
 */
const SKELETON_MARK = 'mnsk_';

/** A table as the kernel holds it (or as we last wrote it). */
export interface NftTableState {
  readonly family: NftFamily;
  readonly name: string;
  /** Hash of the skeleton written (from the mark chain); undefined if the table has no mark. */
  readonly skeletonHash: string | undefined;
  /** Elements per set, sorted (plain string order), so that a diff is one linear merge. */
  readonly elements: Map<string, readonly string[]>;
}

type NsState = Map<string, NftTableState>;

const tableKey = (t: { family: string; name: string }): string => `${t.family} ${t.name}`;

export function skeletonHash(t: Pick<NftTableSpec, 'family' | 'name' | 'skeleton'>): string {
  return shortHash([t.family, t.name, t.skeleton], 16);
}

/** Checks what reaches `nft -f`: table and set names are ours, namespaces plain. */
export function checkNftDesired(desired: NftDesired): void {
  for (const [ns, tables] of desired) {
    if (!NETNS_RE.test(ns)) throw new Error(`nft: namespace ${JSON.stringify(ns)}: not a plain netns name`);
    const seen = new Set<string>();
    for (const t of tables) {
      if (!FAMILIES.includes(t.family))
        throw new Error(
          `nft: table ${t.name} in ${ns}: family ${JSON.stringify(t.family)} must be ip, ip6 or inet`,
        );
      if (!NFT_TABLE_RE.test(t.name))
        throw new Error(
          `nft: table ${JSON.stringify(t.name)} in ${ns}: must match ${NFT_TABLE_RE} (ownership mark)`,
        );
      if (seen.has(tableKey(t))) throw new Error(`nft: table ${tableKey(t)} in ${ns}: listed twice`);
      seen.add(tableKey(t));
      for (const set of Object.keys(t.elements)) {
        if (!/^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(set))
          throw new Error(`nft: table ${t.name} in ${ns}: set name ${JSON.stringify(set)} is not plain`);
      }
    }
  }
}

/** `table <f> <n> { skeleton + mark }` and its elements: the whole table in nft syntax. */
export function renderTable(t: NftTableSpec): string {
  const lines = [
    `table ${t.family} ${t.name} {`,
    t.skeleton.trimEnd(),
    `chain ${SKELETON_MARK}${skeletonHash(t)} {`,
    '}',
    '}',
  ];
  for (const [set, elems] of Object.entries(t.elements)) {
    if (elems.length) lines.push(elementCmd('add', t, set, elems));
  }
  return lines.join('\n') + '\n';
}

function elementCmd(
  verb: 'add' | 'delete',
  t: { family: string; name: string },
  set: string,
  elems: Iterable<string>,
): string {
  return `${verb} element ${t.family} ${t.name} ${set} { ${[...elems].join(', ')} }`;
}

/**
 * The script that turns `have` (undefined = unknown: rewrite) into `want` for one namespace.
 * Element strings are compared as given: produce them in nft's own output form
 * (`a . b : goto x`, protocols by name, numbers in decimal) so that a re-read matches.
 */
export function planNamespace(
  have: NsState | undefined,
  want: readonly NftTableSpec[],
): { script: string; changes: number } {
  const out: string[] = [];
  let changes = 0;
  const wanted = new Set(want.map(tableKey));
  for (const [k, t] of have ?? []) {
    if (wanted.has(k)) continue;
    out.push(`delete table ${t.family} ${t.name}`);
    changes++;
  }
  for (const t of want) {
    const cur = have?.get(tableKey(t));
    if (!cur || cur.skeletonHash !== skeletonHash(t)) {
      // Skeleton changed (or unknown): delete and re-create in this same transaction.
      // `add table` first so that the delete cannot fail on a missing table.
      out.push(
        `add table ${t.family} ${t.name}`,
        `delete table ${t.family} ${t.name}`,
        renderTable(t).trimEnd(),
      );
      changes += 1 + Object.values(t.elements).reduce((n, e) => n + e.length, 0);
      continue;
    }
    const dels: string[] = [];
    const adds: string[] = [];
    const sets = new Set([...cur.elements.keys(), ...Object.keys(t.elements)]);
    for (const set of sets) {
      const { gone, fresh } = diffSorted(cur.elements.get(set) ?? [], sorted(t.elements[set] ?? []));
      if (gone.length) dels.push(elementCmd('delete', t, set, gone));
      if (fresh.length) adds.push(elementCmd('add', t, set, fresh));
      changes += gone.length + fresh.length;
    }
    // Deletes first: a map key whose value changed is removed, then added with its new value.
    out.push(...dels, ...adds);
  }
  return { script: out.length ? out.join('\n') + '\n' : '', changes };
}

/** The array itself when already sorted (the calc's output is), else a sorted copy. */
function sorted(xs: readonly string[]): readonly string[] {
  for (let i = 1; i < xs.length; i++) if (xs[i - 1]! > xs[i]!) return [...xs].sort();
  return xs;
}

/** Elements only in `now` (gone) and only in `next` (fresh); both sorted: one linear merge. */
export function diffSorted(
  now: readonly string[],
  next: readonly string[],
): { gone: string[]; fresh: string[] } {
  const gone: string[] = [];
  const fresh: string[] = [];
  let i = 0;
  let j = 0;
  while (i < now.length || j < next.length) {
    const a = now[i];
    const b = next[j];
    if (b === undefined || (a !== undefined && a < b)) {
      gone.push(a!);
      i++;
    } else if (a === undefined || b < a) {
      fresh.push(b);
      j++;
    } else {
      i++;
      j++;
    }
  }
  return { gone, fresh };
}

function stateOf(t: NftTableSpec): NftTableState {
  const elements = new Map<string, readonly string[]>();
  for (const [set, elems] of Object.entries(t.elements)) elements.set(set, sorted(elems));
  return { family: t.family, name: t.name, skeletonHash: skeletonHash(t), elements };
}

// ---- reading `nft -j list ruleset` back into element strings

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** One JSON expression as nft prints it in text form. */
export function exprText(e: Json): string {
  if (typeof e === 'string' || typeof e === 'number' || typeof e === 'boolean') return String(e);
  if (e === null) return '';
  if (Array.isArray(e)) return e.map(exprText).join(', ');
  if ('concat' in e) return (e.concat as Json[]).map(exprText).join(' . ');
  if ('elem' in e) return exprText((e.elem as { val: Json }).val);
  if ('prefix' in e) {
    const p = e.prefix as { addr: Json; len: number };
    return `${exprText(p.addr)}/${p.len}`;
  }
  if ('range' in e) return (e.range as Json[]).map(exprText).join('-');
  for (const v of ['goto', 'jump'] as const) if (v in e) return `${v} ${(e[v] as { target: string }).target}`;
  for (const v of ['accept', 'drop', 'continue', 'return'] as const) if (v in e) return v;
  return JSON.stringify(e);
}

/** Tables named `mn*` in a `nft -j list ruleset` output. */
export function parseRuleset(json: string): NsState {
  const doc = JSON.parse(json) as { nftables?: Record<string, Json>[] };
  const out: NsState = new Map();
  const mine = (o: { family?: Json; table?: Json; name?: Json }): NftTableState | undefined =>
    out.get(`${String(o.family)} ${String(o.table)}`);
  for (const item of doc.nftables ?? []) {
    if (item.table) {
      const t = item.table as { family: NftFamily; name: string };
      if (NFT_TABLE_RE.test(t.name))
        out.set(tableKey(t), {
          family: t.family,
          name: t.name,
          skeletonHash: undefined,
          elements: new Map(),
        });
    }
  }
  for (const item of doc.nftables ?? []) {
    const chain = item.chain as { family: string; table: string; name: string } | undefined;
    if (chain?.name.startsWith(SKELETON_MARK)) {
      const t = mine(chain);
      if (t) out.set(tableKey(t), { ...t, skeletonHash: chain.name.slice(SKELETON_MARK.length) });
    }
    const set = (item.set ?? item.map) as
      { family: string; table: string; name: string; elem?: Json[] } | undefined;
    if (set) {
      const t = mine(set);
      if (!t) continue;
      const elems: string[] = [];
      for (const el of set.elem ?? []) {
        // Map elements are [key, value]; set elements are a single expression.
        if (item.map && Array.isArray(el)) elems.push(`${exprText(el[0]!)} : ${exprText(el[1]!)}`);
        else elems.push(exprText(el));
      }
      t.elements.set(set.name, [...new Set(elems)].sort());
    }
  }
  return out;
}

// ---- the driver

/**
 * `nsenter --net=/run/netns/NS` rather than `ip netns exec NS`: same namespace, without the mount
 * namespace and /sys remount that `ip netns exec` sets up (about 10 ms less per write).
 */
export const NETNS_DIR = '/run/netns';
const netnsArg = (ns: string): string => `--net=${NETNS_DIR}/${ns}`;

export class LinuxNft implements NftDataplane {
  /** What each namespace holds, as far as we know; absent = re-read before writing. */
  private readonly known = new Map<string, NsState>();

  constructor(private readonly runner: Runner) {}

  async sync(desired: NftDesired, opts: { readonly full?: boolean } = {}): Promise<NftSyncReport> {
    const t0 = performance.now();
    checkNftDesired(desired);
    if (opts.full) this.known.clear();
    let processes = 0;
    let changes = 0;
    const errors: { netns: string; message: string }[] = [];
    // Namespaces are independent; run them concurrently (each is one or two short processes).
    await Promise.all(
      [...desired].map(async ([ns, tables]) => {
        for (let attempt = 0; ; attempt++) {
          try {
            if (!this.known.has(ns)) {
              processes++;
              this.known.set(ns, await this.read(ns));
            }
            const { script, changes: c } = planNamespace(this.known.get(ns), tables);
            if (script) {
              processes++;
              await this.write(ns, script);
              changes += c;
            }
            this.known.set(ns, new Map(tables.map((t) => [tableKey(t), stateOf(t)])));
            return;
          } catch (e) {
            // The transaction did not apply: forget what we believed and re-read once.
            this.known.delete(ns);
            if (attempt >= 1) {
              errors.push({ netns: ns, message: (e as Error).message });
              return;
            }
          }
        }
      }),
    );
    return { processes, changes, errors, durationMs: performance.now() - t0 };
  }

  /** The `mn*` tables of a namespace as the kernel holds them. */
  async read(ns: string): Promise<NsState> {
    if (!NETNS_RE.test(ns)) throw new Error(`nft: namespace ${JSON.stringify(ns)}: not a plain netns name`);
    const r = await this.runner.run('nsenter', [netnsArg(ns), 'nft', '-j', 'list', 'ruleset']);
    if (r.code !== 0) throw new Error(`nft list ruleset in ${ns}: ${r.stderr.trim() || `exit ${r.code}`}`);
    return parseRuleset(r.stdout);
  }

  private async write(ns: string, script: string): Promise<void> {
    const r = await this.runner.run('nsenter', [netnsArg(ns), 'nft', '-f', '-'], { input: script });
    if (r.code !== 0) {
      const err = r.stderr.trim().split('\n').slice(0, 6).join('\n');
      throw new Error(`nft -f in ${ns}: ${err || `exit ${r.code}`}`);
    }
  }
}
