// The native CNI shim (src/cni/shim/multinet-cni.c) execs in about a millisecond, where a Node
// process needs 70 ms or more just to start: it forwards the runtime's environment and stdin to
// the agent, which runs the very same plugin code (runPlugin) in its warm process and sends back
// the exact stdout and exit code. Wire format, chosen so the C side needs no JSON parser:
//   shim  -> agent: one JSON line {"shim":1,"env":{...},"stdin":"..."}
//   agent -> shim:  "<exitCode> <byteLength>\n" then the stdout bytes
//   shim  -> agent: "ack\n" once the bytes are written to the runtime (else an ADD is undone).
import type { Socket } from 'node:net';
import { runPlugin } from '../cni/plugin.js';
import type { CniRequest, CniResult100 } from './cni-protocol.js';
import type { CniCallContext, CniHandler } from './cni-server.js';

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

export type Dispatch = (
  handler: CniHandler,
  req: CniRequest,
  ctx: CniCallContext,
) => Promise<CniResult100 | null>;

/**
 * Runs the plugin for a shim request. Returns the ADD request whose result went out (so the caller
 * can undo it if the shim does not acknowledge), and the bytes to send.
 */
export async function runShim(
  handler: CniHandler,
  dispatch: Dispatch,
  shim: ShimRequest,
  ctx: CniCallContext,
): Promise<{ header: string; body: Buffer; added?: CniRequest }> {
  let added: CniRequest | undefined;
  const out = await runPlugin({
    env: shim.env,
    stdin: shim.stdin,
    agent: async (_socketPath, req) => {
      const r = await dispatch(handler, req, ctx);
      if (req.command === 'ADD') added = req;
      return r;
    },
  });
  const body = Buffer.from(out.stdout, 'utf8');
  return {
    header: `${out.exitCode} ${body.length}\n`,
    body,
    ...(added && out.exitCode === 0 ? { added } : {}),
  };
}

export function writeShimAnswer(sock: Socket, a: { header: string; body: Buffer }): void {
  sock.write(a.header);
  sock.write(a.body);
}
