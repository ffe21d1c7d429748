import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePool } from './pool.js';
import { poolFromWhereabouts } from './whereabouts.js';

const size = (p: Parameters<typeof compilePool>[0], f: 4 | 6 = 4) => compilePool(p).families.get(f)?.size;

test('pool sizes: network/broadcast removed, range_start/end, exclude, /31 /32, IPv6', () => {
  assert.equal(size({ network: 'n', ranges: [{ range: '10.0.0.0/24' }] }), 254n);
  assert.equal(size({ network: 'n', ranges: [{ range: '10.0.0.0/31' }] }), 2n);
  assert.equal(size({ network: 'n', ranges: [{ range: '10.0.0.7/32' }] }), 1n);
  assert.equal(
    size({
      network: 'n',
      ranges: [{ range: '10.0.0.0/24', rangeStart: '10.0.0.10', rangeEnd: '10.0.0.19' }],
    }),
    10n,
  );
  assert.equal(
    size({
      network: 'n',
      ranges: [{ range: '10.0.0.0/24', exclude: ['10.0.0.0/28', '10.0.0.8/29', '10.0.0.100/32'] }],
    }),
    254n - 15n - 1n,
  );
  assert.equal(size({ network: 'n', ranges: [{ range: 'fd00::/120' }] }, 6), 255n);
  assert.equal(size({ network: 'n', ranges: [{ range: '10.0.0.0/30' }, { range: '10.0.1.0/30' }] }), 4n);
});

test('malformed pools are refused naming network and field', () => {
  const bad: Array<[unknown, RegExp]> = [
    [{ network: 'n', ranges: [] }, /network "n": ranges: at least one/],
    [
      { network: 'n', ranges: [{ range: '10.0.0.0/33' }] },
      /ranges\[0\]\.range: "10.0.0.0\/33" is not a CIDR/,
    ],
    [{ network: 'n', ranges: [{ range: 'banana' }] }, /ranges\[0\]\.range: "banana"/],
    [
      { network: 'n', ranges: [{ range: '10.0.0.0/24', rangeStart: '10.0.1.1' }] },
      /rangeStart: 10.0.1.1 is not a host address/,
    ],
    [
      { network: 'n', ranges: [{ range: '10.0.0.0/24', rangeStart: '10.0.0.9', rangeEnd: '10.0.0.3' }] },
      /is after rangeEnd/,
    ],
    [
      { network: 'n', ranges: [{ range: '10.0.0.0/24', exclude: ['fd00::/64'] }] },
      /exclude\[0\]: fd00::\/64 is not the same IP family/,
    ],
    [
      { network: 'n', ranges: [{ range: '10.0.0.0/24' }, { range: '10.0.0.128/25' }] },
      /ranges\[1\]\.range: 10.0.0.128\/25 overlaps ranges\[0\]/,
    ],
    [
      { network: 'n', ranges: [{ range: '10.0.0.0/30', exclude: ['10.0.0.0/30'] }] },
      /every IPv4 address is excluded/,
    ],
    [{ network: 'Bad Name', ranges: [{ range: '10.0.0.0/24' }] }, /network "Bad Name"/],
  ];
  for (const [p, re] of bad) assert.throws(() => compilePool(p as never), re);
});

test('Whereabouts mapping: range/range_start/exclude, ipRanges, and "network" taking the Network range', () => {
  assert.deepEqual(
    poolFromWhereabouts('blue', {
      type: 'whereabouts',
      range: '10.0.0.0/24',
      range_start: '10.0.0.5',
      exclude: ['10.0.0.8/30'],
      ipRanges: [{ range: 'fd00::/64' }],
    }),
    {
      network: 'blue',
      ranges: [
        { range: '10.0.0.0/24', rangeStart: '10.0.0.5', exclude: ['10.0.0.8/30'] },
        { range: 'fd00::/64' },
      ],
    },
  );
  assert.deepEqual(poolFromWhereabouts('blue', { type: 'whereabouts', network: 'blue' }, '192.168.5.0/24'), {
    network: 'blue',
    ranges: [{ range: '192.168.5.0/24' }],
  });
  assert.throws(() => poolFromWhereabouts('blue', { type: 'whereabouts' }), /no range, no ipRanges/);
});
