// `multinet agent`'s options: each one is a flag, else an environment variable (a DaemonSet feeds
// them from a ConfigMap), else a default. Pure: the caller passes the flags given, the environment
// and the host name, and gets typed values or one error naming every bad flag/variable and value.
import { isIP } from 'node:net';
import { DEFAULT_CNI_SOCKET } from '../cni/protocol.js';

export const DEFAULT_HEALTH_ADDRESS = '127.0.0.1:9099';
export const DEFAULT_MEMIF_CONTROL = '/run/multinet/memifd.sock';
const DEFAULT_HEALTH: HostPort = { host: '127.0.0.1', port: 9099 };

/** What commander hands over: only the flags given on the command line (no defaults). */
export interface AgentFlags {
  node?: string;
  store?: string;
  netns?: string;
  underlayAddress?: string;
  underlayInterface?: string;
  mtu?: string;
  socket?: string;
  resyncSeconds?: string;
  reclaimSeconds?: string;
  graceSeconds?: string;
  healthAddress?: string;
  memifControl?: string;
  memifForwarder?: string;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface AgentConfig {
  readonly node: string;
  /** undefined: openStore's default ($MULTINET_STORE is read here already, so the same). */
  readonly store: string | undefined;
  readonly netns: string;
  readonly underlayAddress: string | undefined;
  readonly underlayInterface: string | undefined;
  readonly mtu: number | undefined;
  readonly socket: string;
  /** 0 = no periodic full resync. */
  readonly resyncMs: number;
  /** 0 = no periodic IPAM reclaim. */
  readonly reclaimMs: number;
  readonly graceMs: number;
  /** undefined: health endpoints off. */
  readonly health: HostPort | undefined;
  /** The memif forwarder's control socket. */
  readonly memifControl: string;
  /** 'start': the agent starts the forwarder when none answers; 'external': another container runs it. */
  readonly memifForwarder: 'start' | 'external';
}

interface OptionSpec {
  readonly flag: string;
  readonly env: string;
  readonly arg: string;
  readonly help: string;
}

/** Every option: its flag, its variable, and help text (the defaults are stated in it). */
export const AGENT_OPTIONS = {
  node: { flag: '--node', env: 'MULTINET_NODE', arg: '<name>', help: 'node name (default: the host name)' },
  store: {
    flag: '--store',
    env: 'MULTINET_STORE',
    arg: '<url>',
    help: 'datastore URL (embedded:///path, etcd://host:port, kubernetes://[?kubeconfig=/path])',
  },
  netns: {
    flag: '--netns',
    env: 'MULTINET_NETNS',
    arg: '<name>',
    help: 'network namespace of the node ("host" = this one; default host)',
  },
  underlayAddress: {
    flag: '--underlay-address',
    env: 'MULTINET_UNDERLAY_ADDRESS',
    arg: '<ip>',
    help: 'underlay address (default: from the underlay interface)',
  },
  underlayInterface: {
    flag: '--underlay-interface',
    env: 'MULTINET_UNDERLAY_INTERFACE',
    arg: '<if>',
    help: "underlay interface (default: the default route's)",
  },
  mtu: { flag: '--mtu', env: 'MULTINET_MTU', arg: '<n>', help: "underlay MTU (default: the interface's)" },
  socket: {
    flag: '--socket',
    env: 'MULTINET_CNI_SOCKET',
    arg: '<path>',
    help: `CNI socket (default ${DEFAULT_CNI_SOCKET})`,
  },
  resyncSeconds: {
    flag: '--resync-seconds',
    env: 'MULTINET_RESYNC_SECONDS',
    arg: '<s>',
    help: 'full resync interval, 0 = never (default 30)',
  },
  reclaimSeconds: {
    flag: '--reclaim-seconds',
    env: 'MULTINET_RECLAIM_SECONDS',
    arg: '<s>',
    help: 'IPAM leak reclaim interval, 0 = never (default 60)',
  },
  graceSeconds: {
    flag: '--grace-seconds',
    env: 'MULTINET_GRACE_SECONDS',
    arg: '<s>',
    help: 'never reclaim an address younger than this (default 300)',
  },
  healthAddress: {
    flag: '--health-address',
    env: 'MULTINET_HEALTH_ADDRESS',
    arg: '<host:port>',
    help: `HTTP /readyz, /livez, /metrics; "off" = none (default ${DEFAULT_HEALTH_ADDRESS})`,
  },
  memifControl: {
    flag: '--memif-control',
    env: 'MULTINET_MEMIF_CONTROL',
    arg: '<path>',
    help: `control socket of the memif forwarder, started by the agent (default ${DEFAULT_MEMIF_CONTROL})`,
  },
  memifForwarder: {
    flag: '--memif-forwarder',
    env: 'MULTINET_MEMIF_FORWARDER',
    arg: '<start|external>',
    help: 'start: the agent starts the memif forwarder when none answers (default); external: a separate container runs it, so that an agent restart does not stop memif traffic',
  },
} as const satisfies Record<keyof AgentFlags, OptionSpec>;

export class AgentOptionsError extends Error {}

const SECONDS = /^\d+(?:\.\d+)?$/;
const HOST_PORT = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/;

export function resolveAgentOptions(
  flags: AgentFlags,
  env: Readonly<Record<string, string | undefined>>,
  hostName: string,
): AgentConfig {
  const problems: string[] = [];
  /** The flag's value, else the variable's (an empty variable counts as unset), with its source. */
  const raw = (k: keyof AgentFlags): { value: string; from: string } | undefined => {
    const spec = AGENT_OPTIONS[k];
    const f = flags[k];
    if (f !== undefined) return { value: f, from: spec.flag };
    const e = env[spec.env];
    return e !== undefined && e !== '' ? { value: e, from: spec.env } : undefined;
  };
  /** Parses the option's value, recording a problem (and giving undefined) when it is bad. */
  const parsed = <T>(k: keyof AgentFlags, parse: (v: string) => T | string): T | undefined => {
    const r = raw(k);
    if (r === undefined) return undefined;
    const p = parse(r.value);
    if (typeof p === 'string') {
      problems.push(`${r.from} ${JSON.stringify(r.value)}: ${p}`);
      return undefined;
    }
    return p;
  };
  const seconds = (k: keyof AgentFlags, dflt: number): number =>
    parsed(k, (v) => (SECONDS.test(v) ? { n: Number(v) * 1000 } : 'expected seconds (0 or more)'))?.n ??
    dflt * 1000;
  const text = (k: keyof AgentFlags, check: (v: string) => string | undefined): string | undefined =>
    parsed(k, (v) => check(v) ?? { v })?.v;

  const node =
    text('node', (v) => (/^[^\s/]+$/.test(v) ? undefined : 'expected a node name (no spaces or "/")')) ??
    hostName;
  const netns =
    text('netns', (v) => (/^[^\s]+$/.test(v) ? undefined : 'expected a namespace name')) ?? 'host';
  const underlayAddress = text('underlayAddress', (v) => (isIP(v) ? undefined : 'expected an IP address'));
  const underlayInterface = text('underlayInterface', (v) =>
    /^[^\s/:]{1,15}$/.test(v)
      ? undefined
      : 'expected an interface name (1-15 characters, no "/", ":" or spaces)',
  );
  const mtu = parsed('mtu', (v) =>
    /^\d+$/.test(v) && Number(v) >= 68 && Number(v) <= 65535
      ? { n: Number(v) }
      : 'expected an integer MTU between 68 and 65535',
  )?.n;
  const socket =
    text('socket', (v) => (v.startsWith('/') ? undefined : 'expected an absolute path')) ??
    DEFAULT_CNI_SOCKET;
  const health = parsed('healthAddress', parseHealthAddress) ?? { addr: DEFAULT_HEALTH };
  const memifControl =
    text('memifControl', (v) => (v.startsWith('/') ? undefined : 'expected an absolute path')) ??
    DEFAULT_MEMIF_CONTROL;
  const memifForwarder =
    parsed('memifForwarder', (v) =>
      v === 'start' || v === 'external' ? { v: v as 'start' | 'external' } : 'expected "start" or "external"',
    )?.v ?? 'start';
  const config: AgentConfig = {
    node,
    store: raw('store')?.value,
    netns,
    underlayAddress,
    underlayInterface,
    mtu,
    socket,
    resyncMs: seconds('resyncSeconds', 30),
    reclaimMs: seconds('reclaimSeconds', 60),
    graceMs: seconds('graceSeconds', 300),
    health: health.addr,
    memifControl,
    memifForwarder,
  };
  if (problems.length) throw new AgentOptionsError(`invalid agent option: ${problems.join('; ')}`);
  return config;
}

/** `off` (addr undefined), `HOST:PORT` or `[IPv6]:PORT` (port 0 = any free port). */
function parseHealthAddress(v: string): { addr: HostPort | undefined } | string {
  if (v === 'off') return { addr: undefined };
  const m = HOST_PORT.exec(v);
  const port = Number(m?.[3]);
  if (!m || port > 65535) return 'expected HOST:PORT (e.g. 127.0.0.1:9099, [::1]:9099) or "off"';
  const host = m[1] ?? m[2]!;
  if (m[1] !== undefined && isIP(host) !== 6) return `${host} is not an IPv6 address`;
  return { addr: { host, port } };
}
