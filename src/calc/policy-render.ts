// An NftTableSpec as one `nft -f` script (the whole table: skeleton, then elements). Used by the
// policy tests and benchmark to load a table into a namespace, and to prove the syntax is valid.
import type { NftTableSpec } from '../dataplane/nft-types.js';

/** Replaces the table atomically: declare (so delete cannot fail), delete, create, add elements. */
export function nftTableScript(t: NftTableSpec): string {
  const lines = [
    `table ${t.family} ${t.name} {}`,
    `delete table ${t.family} ${t.name}`,
    `table ${t.family} ${t.name} {`,
    t.skeleton,
    '}',
  ];
  for (const [set, els] of Object.entries(t.elements)) {
    if (els.length > 0) lines.push(`add element ${t.family} ${t.name} ${set} { ${els.join(', ')} }`);
  }
  return lines.join('\n') + '\n';
}
