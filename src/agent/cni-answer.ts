// What both framings of the CNI socket share: calling the handler (errors turned into the wire's
// error body the same way) and the one ack-or-undo path. An ADD result counts only once the plugin
// confirms it got it: a plugin that timed out or was killed first has reported an error to the
// runtime, so the attachment is undone and "error" keeps meaning "nothing changed".
import { CniError, ErrorCode } from '../cni/spec.js';
import type {
  CniCallContext,
  CniErrorBody,
  CniHandler,
  CniRequest,
  CniResponse,
  CniResult100,
} from '../cni/protocol.js';
import { ACK } from '../cni/protocol.js';
import type { Logger } from '../util/log.js';

/** How long an ADD result waits for the plugin's ack before it is undone. */
export const ACK_TIMEOUT_MS = 10_000;

export type AnswerLog = Pick<Logger, 'info' | 'warn' | 'error'>;

/** The bytes for the plugin, and the ADD they report as done (undone unless acknowledged). */
export interface Answer {
  readonly bytes: string | Buffer;
  readonly added?: CniRequest;
}

/** One plugin connection as the ack-or-undo path sees it (a socket, or a fake in tests). */
export interface AnswerConn {
  /** True once the plugin hung up. */
  readonly aborted: boolean;
  write(bytes: string | Buffer): void;
  end(bytes?: string | Buffer): void;
  /** The plugin's next line; undefined when it hung up or said nothing for `timeoutMs`. */
  nextLine(timeoutMs: number): Promise<string | undefined>;
}

async function dispatch(
  handler: CniHandler,
  req: CniRequest,
  ctx: CniCallContext,
): Promise<CniResult100 | null> {
  switch (req.command) {
    case 'ADD':
      return handler.add(req, ctx);
    case 'DEL':
      await handler.del(req, ctx);
      return null;
    case 'CHECK':
      await handler.check(req, ctx);
      return null;
    case 'STATUS':
      await handler.status(req, ctx);
      return null;
    case 'GC':
      await handler.gc(req, ctx);
      return null;
  }
}

export function errorBody(e: unknown): CniErrorBody {
  if (e instanceof CniError)
    return { code: e.code, msg: e.msg, ...(e.details ? { details: e.details } : {}) };
  return {
    code: ErrorCode.AgentInternal,
    msg: 'multinet agent failed',
    details: e instanceof Error ? e.message : String(e),
  };
}

/** Runs one request; a failure becomes the error body the plugin will turn back into a CniError. */
export async function handle(
  handler: CniHandler,
  req: CniRequest,
  ctx: CniCallContext,
  log?: AnswerLog,
): Promise<CniResponse> {
  try {
    return { result: await dispatch(handler, req, ctx) };
  } catch (e) {
    if (!(e instanceof CniError))
      log?.error({ err: e, command: req.command, containerId: req.containerId }, 'CNI handler failed');
    return { error: errorBody(e) };
  }
}

/**
 * Sends the answer; an ADD it reports is kept only if the plugin acknowledges it (a live plugin
 * acks at once; one that neither acks nor hangs up is not waited for forever).
 */
export async function deliverAnswer(
  conn: AnswerConn,
  answer: Answer,
  handler: CniHandler,
  log?: AnswerLog,
  ackTimeoutMs = ACK_TIMEOUT_MS,
): Promise<void> {
  const added = answer.added;
  if (!added) {
    if (!conn.aborted) conn.end(answer.bytes);
    return;
  }
  let acked = false;
  if (!conn.aborted) {
    conn.write(answer.bytes);
    acked = (await conn.nextLine(ackTimeoutMs)) === ACK;
  }
  conn.end();
  if (acked) return;
  log?.warn(
    { containerId: added.containerId, ifName: added.ifName },
    'CNI ADD result not acknowledged by the plugin; undoing it',
  );
  // A fresh signal: the plugin's is aborted already, and the undo must run to the end.
  await handler
    .del({ ...added, command: 'DEL' }, { signal: new AbortController().signal })
    .catch((e: unknown) =>
      log?.error({ err: e, containerId: added.containerId }, 'undoing an abandoned CNI ADD failed'),
    );
}
