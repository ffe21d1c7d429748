// Delegated IPAM: an ipam.type the agent does not own is an IPAM plugin, found in CNI_PATH and run
// as the spec says (same environment, the same config on stdin, its result on stdout).
import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import { formatResult, parseResult, type CniResult100 } from './result.js';
import { CniError, ErrorCode, SUPPORTED_VERSIONS, compareVersions, validatePluginName } from './spec.js';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs an executable with exactly `env` and `stdin` (no shell). Injected so tests can fake plugins. */
export type PluginExec = (
  path: string,
  env: Readonly<Record<string, string>>,
  stdin: string,
  timeoutMs: number,
) => Promise<ExecResult>;

export const execPlugin: PluginExec = (path, env, stdin, timeoutMs) =>
  new Promise((resolve, reject) => {
    const child = spawn(path, [], { env, stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(new CniError(ErrorCode.IoFailure, `cannot run ${path}`, e.message)));
    child.on('close', (code, signal) =>
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString(),
        stderr:
          Buffer.concat(err).toString() + (signal ? `\nkilled by ${signal} (timeout ${timeoutMs} ms?)` : ''),
      }),
    );
    child.stdin.on('error', () => undefined); // the plugin may exit before reading stdin
    child.stdin.end(stdin);
  });

/** First executable `name` in the colon-separated CNI_PATH. */
export async function findPlugin(name: string, cniPath: string | undefined): Promise<string> {
  validatePluginName('ipam.type', name);
  const dirs = (cniPath ?? '').split(':').filter((d) => d !== '');
  if (dirs.length === 0)
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      'CNI_PATH is required',
      `needed to find the ipam plugin ${JSON.stringify(name)}`,
    );
  for (const dir of dirs) {
    const p = join(dir, name);
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      // not in this directory
    }
  }
  throw new CniError(
    ErrorCode.InvalidNetworkConfig,
    `ipam plugin ${JSON.stringify(name)} not found`,
    `searched CNI_PATH ${dirs.join(':')}`,
  );
}

export interface DelegateOptions {
  exec: PluginExec;
  /** The runtime's environment, passed on unchanged except CNI_COMMAND. */
  env: Readonly<Record<string, string>>;
  /** The config exactly as received on stdin (parsed). */
  conf: Record<string, unknown>;
  timeoutMs: number;
}

/** One IPAM plugin for one invocation of ours. */
export class IpamDelegate {
  private constructor(
    readonly name: string,
    readonly path: string,
    private readonly o: DelegateOptions,
  ) {}

  static async locate(name: string, o: DelegateOptions): Promise<IpamDelegate> {
    return new IpamDelegate(name, await findPlugin(name, o.env.CNI_PATH), o);
  }

  async add(): Promise<CniResult100> {
    const out = await this.invoke('ADD', true);
    let json: unknown;
    try {
      json = JSON.parse(out);
    } catch (e) {
      throw new CniError(
        ErrorCode.DecodingFailure,
        `ipam plugin ${JSON.stringify(this.name)} printed no JSON result`,
        (e as Error).message,
      );
    }
    const r = parseResult(json, `ipam plugin ${this.name} result`);
    if (!r.ips?.length)
      throw new CniError(
        ErrorCode.IpamPluginFailed,
        `ipam plugin ${JSON.stringify(this.name)} returned no addresses`,
      );
    return r;
  }

  async del(): Promise<void> {
    await this.invoke('DEL', true);
  }

  async check(): Promise<void> {
    await this.invoke('CHECK', true);
  }

  /** STATUS and GC exist from spec 1.1.0; a delegate that does not speak it is skipped. */
  async statusOrGc(command: 'STATUS' | 'GC'): Promise<void> {
    const supported = await this.supportedVersions();
    if (!supported.includes('1.1.0')) return;
    await this.invoke(command, false);
  }

  private async supportedVersions(): Promise<string[]> {
    const r = await this.o.exec(
      this.path,
      { ...this.o.env, CNI_COMMAND: 'VERSION' },
      JSON.stringify({ cniVersion: this.o.conf.cniVersion }),
      this.o.timeoutMs,
    );
    try {
      const v = (JSON.parse(r.stdout) as { supportedVersions?: unknown }).supportedVersions;
      return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
    } catch {
      return [];
    }
  }

  /**
   * Runs the plugin. When it refuses our config's version (error 1; e.g. the reference plugins 1.1.x
   * stop at 1.0.0) and `negotiate` is set, retries once with the highest version both support: the
   * result is converted back, so a 1.1.0 chain can still use the reference `static` IPAM.
   */
  private async invoke(command: string, negotiate: boolean): Promise<string> {
    const env = { ...this.o.env, CNI_COMMAND: command };
    let conf = this.o.conf;
    let r = await this.o.exec(this.path, env, JSON.stringify(conf), this.o.timeoutMs);
    if (r.code !== 0 && negotiate && errorOf(r)?.code === ErrorCode.IncompatibleVersion) {
      const wanted = String(conf.cniVersion);
      const theirs = await this.supportedVersions();
      const common = SUPPORTED_VERSIONS.filter(
        (v) => theirs.includes(v) && compareVersions(v, wanted) < 0,
      ).at(-1);
      if (common) {
        conf = { ...conf, cniVersion: common };
        if (conf.prevResult)
          conf.prevResult = formatResult(parseResult(conf.prevResult, 'prevResult'), common);
        r = await this.o.exec(this.path, env, JSON.stringify(conf), this.o.timeoutMs);
      }
    }
    if (r.code === 0) return r.stdout;
    const e = errorOf(r);
    const who = `ipam plugin ${JSON.stringify(this.name)} ${command}`;
    if (e) throw new CniError(e.code, e.msg, [who, e.details].filter(Boolean).join(': '));
    throw new CniError(
      ErrorCode.IpamPluginFailed,
      `${who} failed`,
      `exit ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 2000)}`,
    );
  }
}

/** The CNI error object a failed plugin printed, if any. */
function errorOf(r: ExecResult): { code: number; msg: string; details?: string } | undefined {
  try {
    const e = JSON.parse(r.stdout) as { code?: unknown; msg?: unknown; details?: unknown };
    if (typeof e.code === 'number' && typeof e.msg === 'string')
      return { code: e.code, msg: e.msg, ...(typeof e.details === 'string' ? { details: e.details } : {}) };
  } catch {
    // not JSON
  }
  return undefined;
}
