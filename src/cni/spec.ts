// CNI spec constants, the spec error object, and validation of the runtime's environment.
// Pure and dependency-free: the plugin bundle imports it, so does the agent.

/** Spec versions this plugin speaks, oldest first (0.1/0.2 results had another shape; not offered). */
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];
export const LATEST_VERSION: CniVersion = '1.1.0';

/** Well-known error codes of the spec (0-99 reserved; 100+ plugin specific). */
export const ErrorCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  ContainerUnknown: 3,
  InvalidEnvironment: 4,
  IoFailure: 5,
  DecodingFailure: 6,
  InvalidNetworkConfig: 7,
  TryAgainLater: 11,
  /** STATUS (1.1.0): the plugin cannot service ADD requests. */
  PluginNotAvailable: 50,
  /** STATUS (1.1.0): not available, and existing containers may be limited. */
  PluginNotAvailableLimited: 51,
  /** Ours: the agent failed for a reason it did not classify. */
  AgentInternal: 100,
  /** Ours: a delegated IPAM plugin failed without printing a CNI error object. */
  IpamPluginFailed: 101,
} as const;

/** A spec error object (`code`, `msg`, `details`); thrown anywhere, printed once by the dispatcher. */
export class CniError extends Error {
  constructor(
    readonly code: number,
    readonly msg: string,
    readonly details = '',
  ) {
    super(details ? `${msg}: ${details}` : msg);
  }

  toJSON(cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
    return { cniVersion, code: this.code, msg: this.msg, ...(this.details ? { details: this.details } : {}) };
  }
}

export function isSupportedVersion(v: unknown): v is CniVersion {
  return typeof v === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** Compares two dotted versions numerically (-1, 0, 1). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

// Spec: "must start with an alphanumeric character, optionally followed by any combination of one or
// more alphanumeric characters, underscore (_), dot (.) or hyphen (-)". Same rule for network names.
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export function validateContainerId(id: string | undefined): string {
  if (!id) throw new CniError(ErrorCode.InvalidEnvironment, 'CNI_CONTAINERID is required', 'empty or unset');
  if (!ID_RE.test(id))
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      'invalid CNI_CONTAINERID',
      `${JSON.stringify(id)}: must start with a letter or digit, then letters, digits, '_', '.', '-'`,
    );
  return id;
}

/** Linux interface names: 1..15 bytes, not '.'/'..', no '/', ':' or whitespace (as libcni checks). */
export function validateIfName(name: string | undefined): string {
  if (!name) throw new CniError(ErrorCode.InvalidEnvironment, 'CNI_IFNAME is required', 'empty or unset');
  const why =
    Buffer.byteLength(name) > 15
      ? 'longer than 15 bytes'
      : name === '.' || name === '..'
        ? "must not be '.' or '..'"
        : /[/:\s]/.test(name)
          ? "must not contain '/', ':' or whitespace"
          : undefined;
  if (why)
    throw new CniError(ErrorCode.InvalidEnvironment, 'invalid CNI_IFNAME', `${JSON.stringify(name)}: ${why}`);
  return name;
}

export function validateNetworkName(name: unknown): string {
  if (typeof name !== 'string' || name === '')
    throw new CniError(ErrorCode.InvalidNetworkConfig, 'invalid network config', 'field "name" is required');
  if (!ID_RE.test(name))
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      'invalid network config',
      `field "name" ${JSON.stringify(name)}: must start with a letter or digit, then letters, digits, '_', '.', '-'`,
    );
  return name;
}

/** `CNI_ARGS`: "K=V;K2=V2" (values may contain '='; empty pairs are ignored). */
export function parseCniArgs(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!raw) return out;
  for (const pair of raw.split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0)
      throw new CniError(
        ErrorCode.InvalidEnvironment,
        'invalid CNI_ARGS',
        `pair ${JSON.stringify(pair)} is not KEY=VALUE`,
      );
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** A plugin executable name looked up in CNI_PATH: a plain file name, never a path. */
export function validatePluginName(field: string, name: unknown): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name) || name.includes('..'))
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      'invalid network config',
      `field "${field}" ${JSON.stringify(name)}: must be a plain executable name (letters, digits, '_', '.', '-'; no '/' or '..')`,
    );
  return name;
}
