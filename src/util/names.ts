// Deterministic, length-bounded kernel names: Linux interface names are at most 15 bytes,
// so long or user-chosen parts are replaced by a short hash that is stable across restarts.
import { createHash } from 'node:crypto';

export const IFNAME_MAX = 15;

/** Short hex hash of the parts (stable across processes and restarts). */
export function shortHash(parts: readonly string[], length = 10): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, length);
}

/** `prefix` + hash of parts, cut to at most `max` characters. */
export function hashedName(prefix: string, parts: readonly string[], max = IFNAME_MAX): string {
  return (prefix + shortHash(parts, 16)).slice(0, max);
}
