// The shim framing of the CNI socket (src/cni/protocol.ts): the native shim execs in about a
// millisecond, where a Node process needs 70 ms or more just to start, so it only forwards the
// runtime's environment and stdin; the agent runs the very same plugin code (runPlugin) here and
// sends back the exact stdout and exit code.
import { runPlugin } from '../cni/plugin.js';
import {
  encodeShimAnswer,
  type CniCallContext,
  type CniHandler,
  type CniRequest,
  type ShimRequest,
} from '../cni/protocol.js';
import { CniError } from '../cni/spec.js';
import { handle, type Answer, type AnswerLog } from './cni-answer.js';

/**
 * Runs the plugin for a shim request, its agent calls going to the handler in-process. The ADD
 * whose result the plugin printed is marked for the ack-or-undo path.
 */
export async function answerShim(
  handler: CniHandler,
  shim: ShimRequest,
  ctx: CniCallContext,
  log?: AnswerLog,
): Promise<Answer> {
  let added: CniRequest | undefined;
  const out = await runPlugin({
    env: shim.env,
    stdin: shim.stdin,
    agent: async (_socketPath, req) => {
      // The same answer the socket would carry, turned back into what the plugin's client throws.
      const resp = await handle(handler, req, ctx, log);
      if ('error' in resp) {
        const { code, msg, details } = resp.error;
        throw new CniError(code, msg, details ?? '');
      }
      if (req.command === 'ADD') added = req;
      return resp.result;
    },
  });
  const bytes = encodeShimAnswer(out.exitCode, out.stdout);
  return added && out.exitCode === 0 ? { bytes, added } : { bytes };
}
