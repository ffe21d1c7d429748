// One logger for the project (pino: structured JSON to stderr; stdout stays for results,
// which the CNI protocol requires).
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(name: string, level = process.env.MULTINET_LOG ?? 'info'): Logger {
  return pino({ name, level }, pino.destination(2));
}

/** A logger that drops everything, for tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
