// Validate and ADD agree: any generated Whereabouts ipam section that `multinet validate` accepts
// compiles and allocates along the ADD path (validateNad -> poolRanges -> Ipam.allocate), and the
// addresses handed out honour range, range_start/range_end and exclude as written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { Fields } from '../api/fields.js';
import { IssueSink } from '../api/issues.js';
import { validateNad } from '../api/nad.js';
import { MemoryStore } from '../store/memory.js';
import { Ipam } from './allocator.js';
import { compilePool, parseCidr, toBigInt } from './pool.js';
import { poolFromWhereabouts, poolRanges } from './whereabouts.js';

type Fam = 4 | 6;
const BITS = { 4: 32, 6: 128 } as const;
const BASE = { 4: BigInt(10) << 24n, 6: BigInt('0xfd000000000000000000000000000000') } as const;

function text(v: bigint, fam: Fam): string {
  const bytes: number[] = [];
  for (let i = 0; i < (fam === 4 ? 4 : 16); i++) {
    bytes.unshift(Number(v & 0xffn));
    v >>= 8n;
  }
  return ipaddr.fromByteArray(bytes).toString();
}

/** The same address in one of the spellings Whereabouts users write. */
function spell(v: bigint, fam: Fam, how: number): string {
  const t = text(v, fam);
  if (fam === 4)
    return how % 3 === 1
      ? t
          .split('.')
          .map((o) => o.padStart(3, '0'))
          .join('.')
      : t;
  switch (how % 4) {
    case 1:
      return t.toUpperCase();
    case 2:
      return (ipaddr.parse(t) as ipaddr.IPv6)
        .toNormalizedString()
        .split(':')
        .map((g) => g.padStart(4, '0'))
        .join(':');
    case 3:
      return t.endsWith('::') ? `${t}0` : t;
    default:
      return t;
  }
}

const rangeSpec = (fam: Fam) =>
  fc
    .record({
      len: fc.integer({ min: BITS[fam] - 8, max: BITS[fam] }),
      net: fc.integer({ min: 0, max: 255 }),
      host: fc.bigInt({ min: 0n, max: 255n }),
      how: fc.nat(),
      form: fc.constantFrom('cidr', 'dash', 'startend'),
      a: fc.option(fc.nat()),
      b: fc.option(fc.nat()),
      exclude: fc.array(
        fc.record({
          off: fc.nat(),
          len: fc.option(fc.integer({ min: BITS[fam] - 9, max: BITS[fam] })),
          other: fc.boolean(),
        }),
        { maxLength: 3 },
      ),
    })
    .map((g) => {
      const size = 1n << BigInt(BITS[fam] - g.len);
      const first = ((BASE[fam] + (BigInt(g.net) << 8n)) / size) * size;
      // Offsets land just outside, on the edges of, and inside the network, whatever its size.
      const at = (off: number) => first + (BigInt(off) % (size + 2n)) - 1n;
      const o: Record<string, unknown> = {};
      const cidr = `${spell(first + (g.host % size), fam, g.how)}/${g.len}`;
      if (g.form === 'dash' && g.a !== null && g.b !== null)
        o.range = `${spell(at(g.a), fam, g.how)}-${cidr}`.replace(
          /-[^/]*\//,
          `-${spell(at(g.b), fam, g.how + 1)}/`,
        );
      else o.range = cidr;
      if (g.form === 'startend') {
        if (g.a !== null) o.range_start = spell(at(g.a), fam, g.how);
        if (g.b !== null) o.range_end = spell(at(g.b), fam, g.how + 2);
      }
      if (g.exclude.length) {
        o.exclude = g.exclude.map((e) => {
          const ef: Fam = e.other && g.how % 5 === 0 ? (fam === 4 ? 6 : 4) : fam;
          const v = ef === fam ? at(e.off) : BASE[ef] + BigInt(e.off);
          return e.len === null ? spell(v, ef, g.how) : `${spell(v, ef, g.how)}/${Math.min(e.len, BITS[ef])}`;
        });
      }
      return o;
    });

const ipamSpec = fc
  .record({
    top: fc.option(fc.oneof(rangeSpec(4), rangeSpec(6))),
    more: fc.array(fc.oneof(rangeSpec(4), rangeSpec(6)), { maxLength: 2 }),
  })
  .filter((g) => g.top !== null || g.more.length > 0)
  .map((g) => ({ type: 'whereabouts', ...(g.top ?? {}), ...(g.more.length ? { ipRanges: g.more } : {}) }));

function validate(ipam: Record<string, unknown>) {
  const sink = new IssueSink('t', () => 1, 'NetworkAttachmentDefinition/x');
  const nad = validateNad(
    new Fields(sink),
    {
      apiVersion: 'k8s.cni.cncf.io/v1',
      kind: 'NetworkAttachmentDefinition',
      metadata: { name: 'x', labels: {}, annotations: {} },
      source: { file: 't', line: 1 },
    },
    { config: JSON.stringify({ cniVersion: '1.0.0', type: 'multinet', network: 'blue', ipam }) },
  );
  return { ipam: nad?.spec.plugin.ipam, errors: sink.issues.filter((i) => i.severity === 'error') };
}

test('property: every ipam section validate accepts compiles and allocates on the ADD path', async () => {
  let accepted = 0;
  let refused = 0;
  await fc.assert(
    fc.asyncProperty(ipamSpec, async (raw) => {
      const v = validate(raw);
      if (!v.ipam) {
        assert.ok(v.errors.length > 0);
        // The IPAM's own mapping refuses it too, naming a field.
        assert.throws(() => compilePool(poolFromWhereabouts('blue', raw)), /network "blue": /);
        refused++;
        return;
      }
      accepted++;
      const ranges = poolRanges(v.ipam);
      assert.deepEqual(poolFromWhereabouts('blue', raw).ranges, ranges);
      const pool = { network: 'blue', ranges };
      const compiled = compilePool(pool);
      const a = await new Ipam(new MemoryStore()).allocate({
        network: 'blue',
        pool,
        containerId: 'c1',
        ifName: 'net1',
        podNamespace: 'default',
        podName: 'p',
      });
      assert.equal(a.ips.length, compiled.families.size);
      for (const { address } of a.ips) {
        const addr = ipaddr.parse(address);
        const val = toBigInt(addr);
        const fam: Fam = addr.kind() === 'ipv4' ? 4 : 6;
        // Independent oracle: inside some range of its family, within its bounds, not excluded.
        const home = v.ipam.ranges.find((r) => {
          if (r.range.family !== fam) return false;
          const c = parseCidr(r.range.text, 'r');
          const p2p = c.prefixLength >= BITS[fam] - 1;
          const lo = r.rangeStart ? toBigInt(ipaddr.parse(r.rangeStart)) : p2p ? c.first : c.first + 1n;
          const hi = r.rangeEnd
            ? toBigInt(ipaddr.parse(r.rangeEnd))
            : p2p || fam === 6
              ? c.last
              : c.last - 1n;
          return (
            lo <= val &&
            val <= hi &&
            r.exclude.every((e) => {
              const x = parseCidr(e.text, 'e');
              return val < x.first || val > x.last;
            })
          );
        });
        assert.ok(home, `${address} is not an assignable address of ${JSON.stringify(ranges)}`);
      }
    }),
    { numRuns: 400 },
  );
  // The generator must exercise both sides.
  if (process.env.MN_PROP_DEBUG) console.log({ accepted, refused });
  assert.ok(accepted > 50 && refused > 20, `accepted ${accepted}, refused ${refused}`);
});
