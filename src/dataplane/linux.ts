// The Linux kernel behind KernelIO: one `ip -json -batch` (+ one `bridge -json fdb`) to read a
// namespace, one `ip -force -batch` (+ one `bridge -force -batch`) to change it.
import { existsSync, readdirSync } from 'node:fs';
import { canonIp, familyOf, hostCidr, routeDst, type Family } from './addr.js';
import type { Batch, Op } from './diff.js';
import { LOCAL_TABLE, RT_PROTO } from './naming.js';
import { Reconciler, type BatchFailure, type KernelIO } from './reconcile.js';
import type {
  AddrState,
  FdbState,
  LinkState,
  NeighState,
  NetnsState,
  RouteState,
  RuleState,
} from './types.js';
import { ProcessRunner, type Runner } from '../util/exec.js';

const NETNS_DIR = '/var/run/netns';

/** argv prefix that runs `tool` inside `ref` (named netns, path, or the host namespace). */
export function inNetns(ref: string, tool: 'ip' | 'bridge'): [string, string[]] {
  if (ref === 'host') return [tool, []];
  if (ref.startsWith('/')) return ['nsenter', [`--net=${ref}`, tool]];
  return [tool, ['-n', ref]];
}

function netnsExists(ref: string): boolean {
  if (ref === 'host') return true;
  return existsSync(ref.startsWith('/') ? ref : `${NETNS_DIR}/${ref}`);
}

// ---------------------------------------------------------------------------------------------
// ip -json -> normalised state

type J = Record<string, unknown>;

export function parseLinks(rows: J[]): LinkState[] {
  return rows.map((r) => {
    const info = (r.linkinfo as J | undefined) ?? {};
    const data = (info.info_data as J | undefined) ?? {};
    const kind = String(info.info_kind ?? r.link_type ?? 'unknown');
    const flags = (r.flags as string[] | undefined) ?? [];
    const link: LinkState = {
      name: String(r.ifname),
      kind,
      mtu: Number(r.mtu),
      up: flags.includes('UP'),
      mac: String(r.address ?? '').toLowerCase(),
      ...(r.ifalias !== undefined ? { alias: String(r.ifalias) } : {}),
      ...(kind === 'vxlan'
        ? {
            vxlan: {
              vni: Number(data.id),
              port: Number(data.port),
              learning: Boolean(data.learning),
              ...(data.local !== undefined
                ? { local: canonIp(String(data.local)) }
                : data.local6 !== undefined
                  ? { local: canonIp(String(data.local6)) }
                  : {}),
            },
          }
        : {}),
    };
    return link;
  });
}

export function parseAddrs(rows: J[]): AddrState[] {
  const out: AddrState[] = [];
  for (const r of rows)
    for (const a of (r.addr_info as J[] | undefined) ?? []) {
      if (a.family !== 'inet' && a.family !== 'inet6') continue;
      out.push({ dev: String(r.ifname), cidr: `${canonIp(String(a.local))}/${Number(a.prefixlen)}` });
    }
  return out;
}

export function parseRoutes(rows: J[]): RouteState[] {
  const out: RouteState[] = [];
  for (const r of rows) {
    // main, or a numbered table (pods' per-interface tables); never local/default
    if (r.table !== undefined && r.table !== 'main' && !/^\d+$/.test(String(r.table))) continue;
    if (r.type !== undefined && r.type !== 'unicast') continue;
    const dst = String(r.dst);
    const fam: Family =
      dst === 'default'
        ? r.gateway && String(r.gateway).includes(':')
          ? 6
          : 4
        : familyOf(dst.split('/')[0] ?? dst);
    const via =
      r.gateway !== undefined
        ? String(r.gateway)
        : r.via !== undefined
          ? String((r.via as J).host)
          : undefined;
    out.push({
      dst: routeDst(dst, fam),
      dev: String(r.dev),
      ...(via !== undefined ? { via: canonIp(via) } : {}),
      proto:
        r.protocol !== undefined ? (/^\d+$/.test(String(r.protocol)) ? Number(r.protocol) : -1) : RT_PROTO,
      // The kernel's defaults (0 for IPv4, 1024 for IPv6) read as "no metric set".
      ...(typeof r.metric === 'number' && r.metric !== 0 && !(fam === 6 && r.metric === 1024)
        ? { metric: r.metric }
        : {}),
      ...(r.table !== undefined && r.table !== 'main' ? { table: Number(r.table) } : {}),
    });
  }
  return out;
}

/** `ip -json rule show` -> our rules (protocol 77) and the kernel's `0: lookup local`. */
export function parseRules(rows: J[], family: 4 | 6): RuleState[] {
  const out: RuleState[] = [];
  for (const r of rows) {
    const table = r.table === 'local' ? LOCAL_TABLE : /^\d+$/.test(String(r.table)) ? Number(r.table) : -1;
    if (table < 0) continue;
    const from =
      typeof r.src !== 'string' || r.src === 'all'
        ? undefined
        : r.srclen !== undefined
          ? `${canonIp(r.src)}/${Number(r.srclen)}`
          : hostCidr(r.src);
    const base = {
      family,
      priority: Number(r.priority),
      ...(from !== undefined ? { from } : {}),
      ...(typeof r.iif === 'string' ? { iif: r.iif } : {}),
      table,
    };
    if (String(r.protocol) === String(RT_PROTO)) out.push(base);
    else if (base.priority === 0 && table === LOCAL_TABLE && from === undefined)
      out.push({ ...base, kernel: true });
  }
  return out;
}

export function parseNeighs(rows: J[]): NeighState[] {
  return rows
    .filter((r) => r.lladdr !== undefined && r.dev !== undefined)
    .map((r) => ({
      dev: String(r.dev),
      addr: canonIp(String(r.dst)),
      mac: String(r.lladdr).toLowerCase(),
      permanent: ((r.state as string[] | undefined) ?? []).includes('PERMANENT'),
    }));
}

export function parseFdb(rows: J[]): FdbState[] {
  return rows
    .filter((r) => r.dst !== undefined && r.ifname !== undefined)
    .map((r) => ({ dev: String(r.ifname), mac: String(r.mac).toLowerCase(), dst: canonIp(String(r.dst)) }));
}

function parseForwarding(rows: J[]): { v4: boolean; v6: boolean } {
  const all = (f: string) => rows.find((r) => r.family === f && r.interface === 'all')?.forwarding === true;
  return { v4: all('inet'), v6: all('inet6') };
}

/** Split the output of `ip -json -batch` (one JSON document per command, one per line). */
function jsonLines(text: string, expected: number, what: string): J[][] {
  const docs = text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as J[]);
  if (docs.length !== expected)
    throw new Error(`${what}: expected ${expected} JSON documents from ip, got ${docs.length}`);
  return docs;
}

// ---------------------------------------------------------------------------------------------
// ops -> batch lines

function famOf(ip: string): Family {
  return familyOf(ip);
}

function ruleSelector(r: RuleState): string {
  return `${r.from ? ` from ${r.from}` : ''}${r.iif ? ` iif ${r.iif}` : ''} lookup ${r.table === LOCAL_TABLE ? 'local' : r.table}`;
}

export function renderOp(op: Op): string[] {
  switch (op.kind) {
    case 'netns-add':
      return [`netns add ${op.name}`];
    case 'netns-del':
      return [`netns del ${op.name}`];
    case 'vxlan-create': {
      const v = op.vx;
      return [
        `link add ${v.name} address ${v.mac} mtu ${v.mtu} type vxlan id ${v.vni} local ${v.local} dstport ${v.port} nolearning`,
        `link set dev ${v.name} netns ${op.into}`,
      ];
    }
    case 'veth-create':
      return [
        `link add ${op.ifname} address ${op.mac} mtu ${op.mtu} type veth peer name ${op.hostName} address ${op.hostMac} mtu ${op.mtu} netns ${op.routingNs}`,
      ];
    case 'veth-create-host':
      return [
        `link add ${op.hostName} address ${op.hostMac} mtu ${op.mtu} type veth peer name ${op.ifname} address ${op.mac} mtu ${op.mtu} netns ${op.podNetns}`,
      ];
    case 'bridge-create':
      return [`link add ${op.ifname} address ${op.mac} mtu ${op.mtu} type bridge`];
    case 'link-del':
      return [`link del dev ${op.dev}`];
    case 'link-set': {
      const parts = [`link set dev ${op.dev}`];
      if (op.mtu !== undefined) parts.push(`mtu ${op.mtu}`);
      if (op.mac !== undefined) parts.push(`address ${op.mac}`);
      if (op.alias !== undefined) parts.push(`alias ${op.alias}`);
      if (op.up) parts.push('up');
      return [parts.join(' ')];
    }
    case 'addr-add':
      return [`addr replace ${op.cidr} dev ${op.dev}${famOf(op.cidr) === 6 ? ' nodad' : ''}`];
    case 'addr-del':
      return [`addr del ${op.cidr} dev ${op.dev}`];
    case 'route-replace': {
      const r = op.route;
      const fam = famOf(r.dst);
      const m = (r.metric !== undefined ? ` metric ${r.metric}` : '') + (r.table ? ` table ${r.table}` : '');
      if (!r.via) return [`route replace ${r.dst} dev ${r.dev} proto ${RT_PROTO}${m}`];
      const viaFam = famOf(r.via);
      const via = viaFam !== fam ? `inet6 ${r.via}` : r.via;
      return [
        `route replace ${r.dst} via ${via} dev ${r.dev} proto ${RT_PROTO}${viaFam === 4 ? ' onlink' : ''}${m}`,
      ];
    }
    case 'route-del':
      return [
        `route del ${op.route.dst} dev ${op.route.dev} proto ${RT_PROTO}${op.route.metric !== undefined ? ` metric ${op.route.metric}` : ''}${op.route.table ? ` table ${op.route.table}` : ''}`,
      ];
    case 'rule-add':
      return [`rule add priority ${op.rule.priority}${ruleSelector(op.rule)} protocol ${RT_PROTO}`];
    case 'rule-flush':
      return [`rule flush protocol ${RT_PROTO}`];
    case 'rule-del':
      return [`rule del priority ${op.rule.priority}${ruleSelector(op.rule)}`];
    case 'neigh-replace':
      return [`neigh replace ${op.neigh.addr} lladdr ${op.neigh.mac} dev ${op.neigh.dev} nud permanent`];
    case 'neigh-del':
      return [`neigh del ${op.neigh.addr} dev ${op.neigh.dev}`];
    case 'fdb-replace':
      return [`fdb replace ${op.fdb.mac} dev ${op.fdb.dev} dst ${op.fdb.dst} self permanent`];
    case 'fdb-del':
      return [`fdb del ${op.fdb.mac} dev ${op.fdb.dev} dst ${op.fdb.dst} self`];
    case 'forwarding':
      return [];
  }
}

/** Render a batch; `lineOp[i]` is the op index of input line i+1 (for -force error mapping). */
export function renderBatch(ops: readonly Op[]): { text: string; lineOp: number[] } {
  const lines: string[] = [];
  const lineOp: number[] = [];
  ops.forEach((op, i) => {
    for (const l of renderOp(op)) {
      lines.push(l);
      lineOp.push(i);
    }
  });
  return { text: lines.join('\n') + '\n', lineOp };
}

/** Map `Command failed -:N` lines of a -force batch back to ops, with the message printed before. */
export function parseBatchErrors(stderr: string, lineOp: readonly number[]): BatchFailure[] {
  const out: BatchFailure[] = [];
  let msg: string[] = [];
  for (const line of stderr.split('\n')) {
    const m = /^Command failed -:(\d+)/.exec(line);
    if (m) {
      out.push({ op: lineOp[Number(m[1]) - 1] ?? -1, message: msg.join('; ') || 'failed' });
      msg = [];
    } else if (line.trim()) msg.push(line.trim());
  }
  return out;
}

export class LinuxKernel implements KernelIO {
  constructor(readonly runner: Runner & { spawned?: number } = new ProcessRunner()) {}

  get processes(): number {
    return this.runner.spawned ?? 0;
  }

  async listNamespaces(prefix: string): Promise<string[]> {
    if (!existsSync(NETNS_DIR)) return [];
    return readdirSync(NETNS_DIR)
      .filter((n) => n.startsWith(prefix))
      .sort();
  }

  async readNodeLinks(node: string): Promise<LinkState[]> {
    if (!netnsExists(node)) throw new Error(`node namespace ${node} does not exist`);
    const [cmd, pre] = inNetns(node, 'ip');
    const r = await this.runner.run(cmd, [...pre, '-d', '-json', 'link', 'show', 'type', 'vxlan']);
    if (r.code !== 0) throw new Error(`reading links of ${node}: ${r.stderr.trim()}`);
    return parseLinks(JSON.parse(r.stdout || '[]') as J[]);
  }

  async readNetns(ref: string, kind: 'routing' | 'pod'): Promise<NetnsState | 'missing'> {
    if (!netnsExists(ref)) return 'missing';
    const withFdb = kind === 'routing';
    const [cmd, pre] = inNetns(ref, 'ip');
    const cmds = [
      'link show',
      'addr show',
      `route show table all proto ${RT_PROTO}`,
      'neigh show',
      'netconf show',
      // IPv4 rules only: a batch line cannot say -6, so IPv6 rules take a process of their own
      ...(withFdb ? [] : ['rule show']),
    ];
    const ipRun = this.runner.run(cmd, [...pre, '-d', '-json', '-batch', '-'], {
      input: cmds.join('\n') + '\n',
    });
    const [bcmd, bpre] = inNetns(ref, 'bridge');
    const brRun = withFdb ? this.runner.run(bcmd, [...bpre, '-json', 'fdb', 'show']) : undefined;
    const rule6Run = withFdb ? undefined : this.runner.run(cmd, [...pre, '-6', '-json', 'rule', 'show']);
    const r = await ipRun;
    if (r.code !== 0) throw new Error(`reading namespace ${ref}: ${r.stderr.trim()}`);
    const [links, addrs, routes, neighs, netconf, rules4] = jsonLines(
      r.stdout,
      cmds.length,
      `namespace ${ref}`,
    ) as [J[], J[], J[], J[], J[], J[] | undefined];
    let rules: RuleState[] = [];
    if (rule6Run) {
      const r6 = await rule6Run;
      if (r6.code !== 0) throw new Error(`reading IPv6 rules of ${ref}: ${r6.stderr.trim()}`);
      rules = [...parseRules(rules4 ?? [], 4), ...parseRules(JSON.parse(r6.stdout || '[]') as J[], 6)];
    }
    let fdb: FdbState[] = [];
    if (brRun) {
      const b = await brRun;
      if (b.code !== 0) throw new Error(`reading fdb of ${ref}: ${b.stderr.trim()}`);
      fdb = parseFdb(JSON.parse(b.stdout || '[]') as J[]);
    }
    return {
      links: parseLinks(links),
      addrs: parseAddrs(addrs),
      routes: parseRoutes(routes),
      neighs: parseNeighs(neighs),
      fdb,
      rules,
      forwarding: parseForwarding(netconf),
    };
  }

  async apply(batch: Batch): Promise<BatchFailure[]> {
    if (batch.tool === 'sysctl') {
      if (batch.target.kind !== 'netns') return [];
      // Only ever in our routing namespaces, never in the root namespace.
      const r = await this.runner.run('ip', [
        'netns',
        'exec',
        batch.target.ref,
        'sysctl',
        '-q',
        '-w',
        'net.ipv4.ip_forward=1',
        'net.ipv6.conf.all.forwarding=1',
      ]);
      return r.code === 0 ? [] : [{ op: 0, message: r.stderr.trim() || `sysctl exited ${r.code}` }];
    }
    const { text, lineOp } = renderBatch(batch.ops);
    let cmd: string;
    let pre: string[];
    if (batch.target.kind === 'root') [cmd, pre] = [batch.tool, []];
    else {
      if (!netnsExists(batch.target.ref))
        return batch.ops.map((_, i) => ({
          op: i,
          message: `namespace ${batch.target.kind === 'netns' ? batch.target.ref : ''} does not exist`,
        }));
      [cmd, pre] = inNetns(batch.target.ref, batch.tool as 'ip' | 'bridge');
    }
    // Pod batches stop at the first error: if creating the interface failed, the following lines
    // must not touch whatever holds that name. Elsewhere -force keeps going and reports.
    const force = batch.podKey ? [] : ['-force'];
    const fam = batch.family === 6 ? ['-6'] : [];
    const r = await this.runner.run(cmd, [...pre, ...fam, ...force, '-batch', '-'], { input: text });
    if (r.code === 0) return [];
    const failures = parseBatchErrors(r.stderr, lineOp);
    return failures.length
      ? failures
      : [{ op: 0, message: r.stderr.trim() || `${batch.tool} exited ${r.code}` }];
  }
}

/** The dataplane on the real kernel. */
export class LinuxDataplane extends Reconciler {
  constructor(runner: Runner & { spawned?: number } = new ProcessRunner(), concurrency = 8) {
    super(new LinuxKernel(runner), concurrency);
  }
}
