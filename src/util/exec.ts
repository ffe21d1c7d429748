// Every process the project spawns goes through a Runner, so tests can fake it and
// benchmarks can count processes (one `ip -batch`/`nft -f` per namespace per sync).
import { spawn } from 'node:child_process';

export interface RunOptions {
  /** Text written to the child's stdin (for `ip -batch -`, `nft -f -`). */
  readonly input?: string;
  /** Extra environment variables, merged over process.env. */
  readonly env?: Readonly<Record<string, string>>;
  /** Kill the child after this many milliseconds (default 60 s). */
  readonly timeoutMs?: number;
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Runner {
  run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult>;
}

/** Thrown by runChecked when the child exits non-zero. */
export class CommandError extends Error {
  constructor(
    readonly cmd: string,
    readonly args: readonly string[],
    readonly result: RunResult,
  ) {
    super(`${cmd} ${args.join(' ')} exited ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`);
  }
}

export class ProcessRunner implements Runner {
  /** Number of processes spawned by this runner (read by benchmarks). */
  spawned = 0;

  run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    this.spawned++;
    return new Promise((resolve, reject) => {
      // No shell: arguments are passed as an argv array, so user-supplied names never reach a shell.
      const child = spawn(cmd, args, {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: opts.env ? { ...process.env, ...opts.env } : process.env,
        timeout: opts.timeoutMs ?? 60_000,
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', reject);
      child.on('close', (code, signal) =>
        resolve({
          code: code ?? (signal ? 128 : 1),
          stdout: Buffer.concat(out).toString(),
          stderr: Buffer.concat(err).toString(),
        }),
      );
      child.stdin.on('error', () => undefined); // child may exit before reading all input
      child.stdin.end(opts.input ?? '');
    });
  }
}

export async function runChecked(
  runner: Runner,
  cmd: string,
  args: readonly string[],
  opts?: RunOptions,
): Promise<RunResult> {
  const r = await runner.run(cmd, args, opts);
  if (r.code !== 0) throw new CommandError(cmd, args, r);
  return r;
}
