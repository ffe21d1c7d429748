// The CNI dispatcher: environment and stdin in, stdout and exit code out, nothing global, so the
// spec's behaviour is tested without a process. ADD is linear: validate, delegated IPAM (if any),
// ask the agent, merge with prevResult, print in the requested version; any failure after the IPAM
// step releases that address again.
//
// Choices the spec leaves open:
// - Agent unreachable: error 11 for every command, DEL included. Succeeding would let the runtime
//   forget an attachment whose link and address still exist; with 11 it retries DEL until the agent
//   is back (missing netns/link/allocation is still success, decided by the agent). STATUS says 50.
// - Exit status: the error code when it is 1..255, else 1 (libcni only looks at non-zero).
// - Agent socket: $MULTINET_CNI_SOCKET, else dataplane_options.agent_socket, else "agentSocket",
//   else /run/multinet/cni.sock. Timeout: $MULTINET_CNI_TIMEOUT_MS or
//   dataplane_options.agent_timeout_ms, default 60 s (also for a delegated IPAM plugin).
import {
  AGENT_IPAM_TYPES,
  DEFAULT_CNI_SOCKET,
  DELEGATE_IPAM_KEY,
  PROTOCOL_VERSION,
  type CniCommand,
  type CniRequest,
  type GcAttachment,
  type NetConf,
} from './protocol.js';
import { AgentUnavailableError, callAgent, type AgentCall } from './agent-client.js';
import { IpamDelegate, execPlugin, type PluginExec } from './delegate.js';
import { formatResult, mergeResults, parseResult } from './result.js';
import {
  CniError,
  ErrorCode,
  LATEST_VERSION,
  SUPPORTED_VERSIONS,
  compareVersions,
  isSupportedVersion,
  parseCniArgs,
  validateContainerId,
  validateIfName,
  validateNetworkName,
} from './spec.js';

export const DEFAULT_TIMEOUT_MS = 60_000;

export interface PluginInput {
  env: Readonly<Record<string, string | undefined>>;
  stdin: string;
  /** Runs delegated IPAM plugins (default: spawn). */
  exec?: PluginExec;
  /** Talks to the agent (default: unix socket). */
  agent?: AgentCall;
}

export interface PluginOutput {
  stdout: string;
  /** 0 on success; on error the spec error code when it fits in an exit status, else 1. */
  exitCode: number;
}

// Environment the spec requires per command (CNI_COMMAND itself aside).
const REQUIRED_ENV: Record<CniCommand, readonly string[]> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
  STATUS: [],
  GC: ['CNI_PATH'],
};

export async function runPlugin(input: PluginInput): Promise<PluginOutput> {
  let cniVersion: string = LATEST_VERSION;
  try {
    const command = input.env.CNI_COMMAND;
    if (command === 'VERSION') return { stdout: versionInfo(input.stdin), exitCode: 0 };
    if (!command)
      throw new CniError(ErrorCode.InvalidEnvironment, 'CNI_COMMAND is required', 'empty or unset');
    if (!(command in REQUIRED_ENV))
      throw new CniError(
        ErrorCode.InvalidEnvironment,
        `unknown CNI_COMMAND: ${command}`,
        'expected ADD, DEL, CHECK, STATUS, GC or VERSION',
      );
    const cmd = command as CniCommand;
    const env = checkEnv(cmd, input.env);
    const conf = parseConf(cmd, input.stdin);
    cniVersion = conf.cniVersion;
    const stdout = await dispatch(cmd, env, conf, input);
    return { stdout, exitCode: 0 };
  } catch (e) {
    const err =
      e instanceof CniError
        ? e
        : new CniError(
            ErrorCode.AgentInternal,
            'internal error in the multinet CNI plugin',
            (e as Error)?.stack ?? String(e),
          );
    return {
      stdout: JSON.stringify(err.toJSON(cniVersion)) + '\n',
      exitCode: err.code >= 1 && err.code <= 255 ? err.code : 1,
    };
  }
}

function versionInfo(stdin: string): string {
  // The runtime may send {"cniVersion": "x"}: answer in that version when we speak it.
  let v: unknown;
  try {
    v = stdin.trim() ? (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion : undefined;
  } catch {
    v = undefined;
  }
  return (
    JSON.stringify({
      cniVersion: isSupportedVersion(v) ? v : LATEST_VERSION,
      supportedVersions: SUPPORTED_VERSIONS,
    }) + '\n'
  );
}

interface Env {
  containerId: string;
  netns: string;
  ifName: string;
  args: Record<string, string>;
  /** Everything the runtime gave us (undefined dropped), passed on to delegated plugins. */
  all: Record<string, string>;
}

function checkEnv(cmd: CniCommand, raw: Readonly<Record<string, string | undefined>>): Env {
  const missing = REQUIRED_ENV[cmd].filter((k) => !raw[k]);
  if (missing.length)
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      `required env variables [${missing.join(' ')}] missing`,
      `for CNI_COMMAND=${cmd}`,
    );
  const all: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) if (v !== undefined) all[k] = v;
  const attach = cmd === 'ADD' || cmd === 'DEL' || cmd === 'CHECK';
  return {
    containerId: attach ? validateContainerId(raw.CNI_CONTAINERID) : '',
    ifName: attach ? validateIfName(raw.CNI_IFNAME) : '',
    netns: raw.CNI_NETNS ?? '',
    args: parseCniArgs(raw.CNI_ARGS),
    all,
  };
}

interface Conf {
  cniVersion: string;
  /** As received, for delegated plugins. */
  raw: Record<string, unknown>;
  /** For the agent (prevResult converted to 1.x). */
  net: NetConf;
  ipamType: string | undefined;
  /** `"delegateIpam": true`: run ipam.type as a plugin even when the agent serves that type. */
  delegateIpam: boolean;
  validAttachments: GcAttachment[] | undefined;
}

function confError(details: string): CniError {
  return new CniError(ErrorCode.InvalidNetworkConfig, 'invalid network config', details);
}

function parseConf(cmd: CniCommand, stdin: string): Conf {
  let raw: unknown;
  try {
    raw = JSON.parse(stdin);
  } catch (e) {
    throw new CniError(
      ErrorCode.DecodingFailure,
      'failed to decode network config on stdin',
      (e as Error).message,
    );
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new CniError(
      ErrorCode.DecodingFailure,
      'failed to decode network config on stdin',
      'not a JSON object',
    );
  const c = raw as Record<string, unknown>;
  // A config without cniVersion is 0.1.0 for libcni, which we do not speak.
  const version = c.cniVersion ?? '0.1.0';
  if (!isSupportedVersion(version))
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      'incompatible CNI versions',
      `config is ${JSON.stringify(version)}, plugin supports ${JSON.stringify(SUPPORTED_VERSIONS)}`,
    );
  validateNetworkName(c.name);
  if (typeof c.type !== 'string' || !c.type) throw confError('field "type" is required');

  const dp = c.dataplane_options;
  if (dp !== undefined && (typeof dp !== 'object' || dp === null || Array.isArray(dp)))
    throw confError('field "dataplane_options" must be an object');
  const dpo = (dp ?? {}) as Record<string, unknown>;
  if (cmd === 'ADD' || cmd === 'DEL' || cmd === 'CHECK') {
    // The reference's form (dataplane_options.network_name) or our type's top-level "network".
    const net = dpo.network_name ?? (c.type === 'multinet' ? c.network : undefined);
    if (typeof net !== 'string' || net === '')
      throw confError(
        'field "dataplane_options.network_name" (or "network" for type multinet) is required: the multinet network to attach to',
      );
  }

  let ipamType: string | undefined;
  if (c.ipam !== undefined) {
    if (typeof c.ipam !== 'object' || c.ipam === null || Array.isArray(c.ipam))
      throw confError('field "ipam" must be an object');
    const t = (c.ipam as Record<string, unknown>).type;
    if (typeof t !== 'string' || !t) throw confError('field "ipam.type" is required');
    ipamType = t;
  }
  const delegateIpam = c[DELEGATE_IPAM_KEY] ?? false;
  if (typeof delegateIpam !== 'boolean')
    throw confError(`field "${DELEGATE_IPAM_KEY}" must be true or false`);

  const net = { ...c } as NetConf;
  if (c.prevResult !== undefined && c.prevResult !== null)
    net.prevResult = parseResult(c.prevResult, 'prevResult');
  else delete net.prevResult;

  let validAttachments: GcAttachment[] | undefined;
  if (cmd === 'GC') {
    // libcni writes both keys (the spec once named it "cni.dev/attachments").
    const list = c['cni.dev/valid-attachments'] ?? c['cni.dev/attachments'] ?? [];
    if (!Array.isArray(list)) throw confError('field "cni.dev/valid-attachments" must be a list');
    validAttachments = list.map((a: unknown, i) => {
      const o = (a ?? {}) as Record<string, unknown>;
      if (typeof o.containerID !== 'string' || typeof o.ifname !== 'string')
        throw confError(`cni.dev/valid-attachments[${i}]: needs string fields "containerID" and "ifname"`);
      return { containerId: o.containerID, ifName: o.ifname };
    });
  }
  return { cniVersion: version, raw: c, net, ipamType, delegateIpam, validAttachments };
}

function socketPath(env: Env, conf: Conf): string {
  const dpo = (conf.raw.dataplane_options ?? {}) as Record<string, unknown>;
  // The node's environment wins (operators, tests), then the config, then the default.
  const p = env.all.MULTINET_CNI_SOCKET || dpo.agent_socket || conf.raw.agentSocket || DEFAULT_CNI_SOCKET;
  if (typeof p !== 'string' || !p.startsWith('/'))
    throw confError(`agent socket ${JSON.stringify(p)} must be an absolute path`);
  return p;
}

function timeoutMs(env: Env, conf: Conf): number {
  const dpo = (conf.raw.dataplane_options ?? {}) as Record<string, unknown>;
  const t = Number(env.all.MULTINET_CNI_TIMEOUT_MS || dpo.agent_timeout_ms || DEFAULT_TIMEOUT_MS);
  if (!Number.isFinite(t) || t <= 0)
    throw confError('agent timeout must be a positive number of milliseconds');
  return t;
}

async function dispatch(cmd: CniCommand, env: Env, conf: Conf, input: PluginInput): Promise<string> {
  const agent = input.agent ?? callAgent;
  const sock = socketPath(env, conf);
  const timeout = timeoutMs(env, conf);
  const owned = conf.ipamType !== undefined && AGENT_IPAM_TYPES.includes(conf.ipamType) && !conf.delegateIpam;
  // Located (and its name validated) before anything has been changed.
  const delegate =
    conf.ipamType !== undefined && !owned
      ? await IpamDelegate.locate(conf.ipamType, {
          exec: input.exec ?? execPlugin,
          env: env.all,
          conf: conf.raw,
          timeoutMs: timeout,
        })
      : undefined;
  const req: CniRequest = {
    protocol: PROTOCOL_VERSION,
    command: cmd,
    containerId: env.containerId,
    netns: env.netns,
    ifName: env.ifName,
    args: env.args,
    netConf: conf.net,
    ipam: delegate ? 'delegated' : owned ? 'agent' : 'none',
  };

  switch (cmd) {
    case 'ADD': {
      if (delegate) req.ipamResult = await delegate.add();
      let ours;
      try {
        const raw = await agent(sock, req, timeout);
        try {
          ours = parseResult(raw, 'agent result');
        } catch (e) {
          // The agent attached but answered nonsense: undo its part too (best effort).
          await agent(sock, { ...req, command: 'DEL' }, timeout).catch(() => undefined);
          throw e;
        }
      } catch (e) {
        throw delegate ? await rollbackIpam(delegate, e) : e;
      }
      return JSON.stringify(formatResult(mergeResults(conf.net.prevResult, ours), conf.cniVersion)) + '\n';
    }
    case 'DEL':
      // Agent first: if it fails the runtime retries DEL, and the address must not be handed out
      // again while an interface may still carry it.
      await agent(sock, req, timeout);
      if (delegate) await delegate.del();
      return '';
    case 'CHECK':
      if (compareVersions(conf.cniVersion, '0.4.0') < 0)
        throw new CniError(
          ErrorCode.IncompatibleVersion,
          'config version does not allow CHECK',
          `CHECK exists from 0.4.0; config is ${conf.cniVersion}`,
        );
      if (!conf.net.prevResult) throw confError('CHECK needs "prevResult" (the result of the ADD)');
      await agent(sock, req, timeout);
      if (delegate) await delegate.check();
      return '';
    case 'STATUS':
      try {
        await agent(sock, req, timeout);
      } catch (e) {
        if (e instanceof AgentUnavailableError)
          throw new CniError(ErrorCode.PluginNotAvailable, 'plugin not available', e.details);
        throw e;
      }
      if (delegate) await delegate.statusOrGc('STATUS');
      return '';
    case 'GC':
      req.validAttachments = conf.validAttachments ?? [];
      await agent(sock, req, timeout);
      if (delegate) await delegate.statusOrGc('GC');
      return '';
  }
}

/** Releases a delegated address after a failed ADD; returns the error to report (the original one). */
async function rollbackIpam(delegate: IpamDelegate, cause: unknown): Promise<unknown> {
  try {
    await delegate.del();
    return cause;
  } catch (e) {
    // Say so: the runtime will DEL anyway, which retries the release.
    if (!(cause instanceof CniError)) return cause;
    const also = `releasing the address with ipam plugin ${delegate.name} also failed: ${(e as Error).message}`;
    return new CniError(cause.code, cause.msg, cause.details ? `${cause.details}; ${also}` : also);
  }
}
