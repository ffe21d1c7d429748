// The JSON framing of the CNI socket (the Node plugin): one request line in, one answer line out.
import { CniError, ErrorCode } from '../cni/spec.js';
import {
  encodeMessage,
  requestProblem,
  type CniCallContext,
  type CniHandler,
  type CniRequest,
} from '../cni/protocol.js';
import { errorBody, handle, type Answer, type AnswerLog } from './cni-answer.js';

/** A line that is not JSON: answered in the JSON framing, the only one a broken client may speak. */
export function undecodableAnswer(e: Error): Answer {
  const err = new CniError(ErrorCode.DecodingFailure, 'agent could not decode the request', e.message);
  return { bytes: encodeMessage({ error: errorBody(err) }) };
}

/** Checks and runs one decoded request; an ADD result is marked for the ack-or-undo path. */
export async function answerJson(
  handler: CniHandler,
  parsed: unknown,
  ctx: CniCallContext,
  log?: AnswerLog,
): Promise<Answer> {
  const problem = requestProblem(parsed);
  if (problem) {
    const err = new CniError(ErrorCode.DecodingFailure, 'agent could not understand the request', problem);
    return { bytes: encodeMessage({ error: errorBody(err) }) };
  }
  const req = parsed as CniRequest;
  const resp = await handle(handler, req, ctx, log);
  const bytes = encodeMessage(resp);
  return req.command === 'ADD' && 'result' in resp ? { bytes, added: req } : { bytes };
}
