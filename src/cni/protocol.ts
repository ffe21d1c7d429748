// The seam between the CNI plugin (one short process per runtime call) and the node agent: the
// wire protocol of the agent socket (both framings) and the contract of the agent's handler. Both
// sides import this file and nothing of each other. One request per unix-socket connection:
// - JSON framing (the Node plugin): one line of JSON each way (newline-terminated). The plugin has
//   already validated the environment, parsed CNI_ARGS, run any delegated IPAM plugin and
//   converted every result to the 1.x shape, so the handler only ever sees one form.
// - Shim framing (the native shim, src/cni/shim/multinet-cni.c, which has no JSON parser):
//     shim  -> agent: one JSON line {"shim":1,"env":{...},"stdin":"..."}
//     agent -> shim:  "<exitCode> <byteLength>\n" then the plugin's stdout bytes
//   and the agent runs the plugin code (runPlugin) itself, in its warm process.
// Either way an ADD result is followed by the plugin's "ack" line; without it the agent undoes it.
// Kept dependency-free: the plugin bundle imports this file.
import type { CniResult100 } from './result.js';

export type { CniResult100 } from './result.js';

/** Bumped on incompatible changes; the server rejects other values with a clear error. */
export const PROTOCOL_VERSION = 1;

export const DEFAULT_CNI_SOCKET = '/run/multinet/cni.sock';
/** IPAM types the agent allocates for itself; any other ipam.type is run as a plugin from CNI_PATH. */
export const AGENT_IPAM_TYPES: readonly string[] = ['whereabouts', 'multinet-ipam'];
/** Our plugin's key that runs ipam.type as a plugin from CNI_PATH even when it is in AGENT_IPAM_TYPES. */
export const DELEGATE_IPAM_KEY = 'delegateIpam';
/** Our plugin's own type name; "calico" is accepted too, for the reference's NAD configs. */
export const PLUGIN_TYPES: readonly string[] = ['multinet', 'calico'];
/** A request or response line larger than this is refused (a config is a few KiB). */
export const MAX_MESSAGE_BYTES = 1 << 20;

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'GC';

/** The plugin's network config as received on stdin (unknown keys are kept). */
export interface NetConf {
  cniVersion: string;
  name: string;
  type: string;
  ipam?: { type?: string; [k: string]: unknown };
  dataplane_options?: { network_name?: string; agent_socket?: string; [k: string]: unknown };
  runtimeConfig?: Record<string, unknown>;
  args?: Record<string, unknown>;
  dns?: Record<string, unknown>;
  /** Result of the earlier plugins of the chain (CHECK/DEL: of the whole ADD), converted to 1.x. */
  prevResult?: CniResult100;
  [k: string]: unknown;
}

export interface GcAttachment {
  containerId: string;
  ifName: string;
}

export interface CniRequest {
  protocol: typeof PROTOCOL_VERSION;
  command: CniCommand;
  /** Empty for STATUS and GC. */
  containerId: string;
  /** Path of the pod's netns; may be empty on DEL (the runtime may have removed it already). */
  netns: string;
  /** Empty for STATUS and GC. */
  ifName: string;
  /** Parsed CNI_ARGS (K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_UID, ...). */
  args: Record<string, string>;
  netConf: NetConf;
  /**
   * Who allocates addresses: 'agent' (ipam.type in AGENT_IPAM_TYPES, no "delegateIpam": true),
   * 'delegated' (an IPAM plugin run by the CNI plugin; its result is in ipamResult on ADD), or
   * 'none' (no ipam section).
   */
  ipam: 'agent' | 'delegated' | 'none';
  /** ADD with delegated IPAM: that plugin's result, converted to 1.x. Use these addresses. */
  ipamResult?: CniResult100;
  /** GC: attachments the runtime still knows; everything else of this network may be removed. */
  validAttachments?: GcAttachment[];
}

export interface CniErrorBody {
  code: number;
  msg: string;
  details?: string;
}

/** ADD answers with the attachment's result (its interfaces, ips, routes only; the plugin merges prevResult). */
export type CniResponse = { result: CniResult100 | null } | { error: CniErrorBody };

/**
 * The plugin's last line after an ADD result: "I have it". Without it (plugin timed out, killed)
 * the agent undoes the ADD, since the runtime was told it failed.
 */
export const ACK = 'ack';

/** The native shim's request: the runtime's environment and stdin, as the shim received them. */
export interface ShimRequest {
  readonly shim: 1;
  readonly env: Record<string, string>;
  readonly stdin: string;
}

export function isShimRequest(v: unknown): v is ShimRequest {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return r.shim === 1 && typeof r.env === 'object' && r.env !== null && typeof r.stdin === 'string';
}

/** The answer to the shim: a header line the C side parses, then the exact stdout bytes. */
export function encodeShimAnswer(exitCode: number, stdout: string): Buffer {
  const body = Buffer.from(stdout, 'utf8');
  return Buffer.concat([Buffer.from(`${exitCode} ${body.length}\n`, 'utf8'), body]);
}

export function encodeMessage(m: CniRequest | CniResponse): string {
  return JSON.stringify(m) + '\n';
}

const COMMANDS: readonly string[] = ['ADD', 'DEL', 'CHECK', 'STATUS', 'GC'];

/** Checks a decoded request's shape; returns a reason when it is not a request we understand. */
export function requestProblem(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'request is not a JSON object';
  const r = v as Record<string, unknown>;
  if (r.protocol !== PROTOCOL_VERSION)
    return `protocol ${JSON.stringify(r.protocol)} is not supported (agent speaks ${PROTOCOL_VERSION}); plugin and agent versions differ`;
  if (typeof r.command !== 'string' || !COMMANDS.includes(r.command))
    return `command ${JSON.stringify(r.command)} is unknown`;
  for (const k of ['containerId', 'netns', 'ifName'])
    if (typeof r[k] !== 'string') return `field "${k}" must be a string`;
  if (typeof r.args !== 'object' || r.args === null) return 'field "args" must be an object';
  if (typeof r.netConf !== 'object' || r.netConf === null) return 'field "netConf" must be an object';
  if (!['agent', 'delegated', 'none'].includes(r.ipam as string))
    return 'field "ipam" must be agent, delegated or none';
  return undefined;
}

export interface CniCallContext {
  /** Aborted when the plugin hung up (timeout, killed) before the answer was written. */
  readonly signal: AbortSignal;
}

/**
 * What the agent does per CNI command. Throw a CniError to send that spec error to the runtime;
 * any other error is reported as code 100 with its message. An interface, so that wrappers (a
 * readiness gate, a recorder) and fakes stand in for the agent's service.
 */
export interface CniHandler {
  /** Attach; returns this attachment's result only (the plugin merges any prevResult). */
  add(req: CniRequest, ctx: CniCallContext): Promise<CniResult100>;
  /** Detach; idempotent (missing netns, link or allocation is success). */
  del(req: CniRequest, ctx: CniCallContext): Promise<void>;
  /** Verify the attachment against req.netConf.prevResult. */
  check(req: CniRequest, ctx: CniCallContext): Promise<void>;
  /** Ready for ADD? Throw CniError 50/51 when not. */
  status(req: CniRequest, ctx: CniCallContext): Promise<void>;
  /** Remove attachments of req.netConf.name not in req.validAttachments. */
  gc(req: CniRequest, ctx: CniCallContext): Promise<void>;
}
