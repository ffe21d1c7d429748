// The plugin's side of the agent socket: one request, one answer, one connection.
import { connect } from 'node:net';
import { ACK, encodeMessage, MAX_MESSAGE_BYTES, type CniRequest, type CniResponse } from './protocol.js';
import type { CniResult100 } from './result.js';
import { CniError, ErrorCode } from './spec.js';

/** Sends a request to the agent; its error answer is rethrown as the CniError it names. */
export type AgentCall = (
  socketPath: string,
  req: CniRequest,
  timeoutMs: number,
) => Promise<CniResult100 | null>;

/** Thrown when nothing reached the agent (no socket, nobody listening): the request had no effect. */
export class AgentUnavailableError extends CniError {
  constructor(socketPath: string, why: string) {
    super(
      ErrorCode.TryAgainLater,
      'multinet agent is not available, try again later',
      `socket ${socketPath}: ${why}`,
    );
  }
}

export const callAgent: AgentCall = (socketPath, req, timeoutMs) =>
  new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    let buf = '';
    let connected = false;
    let settled = false;
    const finish = (err: Error | undefined, value?: CniResult100 | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(value ?? null);
    };
    const timer = setTimeout(
      () =>
        finish(
          connected
            ? // The agent may be working on it: ask for a retry; the agent undoes an ADD whose caller left.
              new CniError(
                ErrorCode.TryAgainLater,
                'multinet agent did not answer in time, try again later',
                `socket ${socketPath}: no answer after ${timeoutMs} ms`,
              )
            : new AgentUnavailableError(socketPath, `no connection after ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
    sock.on('connect', () => {
      connected = true;
      sock.write(encodeMessage(req));
    });
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_MESSAGE_BYTES)
        return finish(new CniError(ErrorCode.IoFailure, 'agent answer too large', `socket ${socketPath}`));
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      let resp: CniResponse;
      try {
        resp = JSON.parse(buf.slice(0, nl)) as CniResponse;
      } catch (e) {
        return finish(
          new CniError(
            ErrorCode.DecodingFailure,
            'agent answer is not JSON',
            `socket ${socketPath}: ${(e as Error).message}`,
          ),
        );
      }
      if ('error' in resp && resp.error) {
        const { code, msg, details } = resp.error;
        return finish(
          new CniError(
            Number.isInteger(code) ? code : ErrorCode.AgentInternal,
            String(msg),
            details ? String(details) : '',
          ),
        );
      }
      if (req.command === 'ADD') {
        // Confirm before anything else can fail; the socket write of a few bytes is immediate.
        settled = true;
        clearTimeout(timer);
        sock.end(ACK + '\n');
        return resolve('result' in resp ? resp.result : null);
      }
      finish(undefined, 'result' in resp ? resp.result : null);
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      // ENOENT: no socket file (agent never started); ECONNREFUSED: stale file of a dead agent.
      if (!connected && (e.code === 'ENOENT' || e.code === 'ECONNREFUSED'))
        finish(new AgentUnavailableError(socketPath, e.code));
      else
        finish(
          new CniError(
            ErrorCode.IoFailure,
            'cannot talk to the multinet agent',
            `socket ${socketPath}: ${e.message}`,
          ),
        );
    });
    sock.on('close', () =>
      finish(
        new CniError(
          ErrorCode.IoFailure,
          'multinet agent closed the connection without answering',
          `socket ${socketPath}`,
        ),
      ),
    );
  });
