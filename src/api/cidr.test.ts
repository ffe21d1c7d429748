import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cidrContains, cidrsOverlap, parseCidr, parseIp } from './cidr.js';

const c = (s: string) => {
  const r = parseCidr(s);
  if (!r.ok) throw new Error(r.error);
  return r.value;
};

test('CIDRs are normalised and host bits are refused with the fix', () => {
  assert.deepEqual(c('172.19.0.0/16'), {
    family: 4,
    address: '172.19.0.0',
    prefixLength: 16,
    text: '172.19.0.0/16',
  });
  assert.equal(c('FD00:0::/64').text, 'fd00::/64');
  const r = parseCidr('10.1.2.3/8');
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.error, /did you mean "10\.0\.0\.0\/8"/);
  assert.equal(parseCidr('10.1.2.3/8', false).ok, true);
  for (const bad of [
    '10.0.0.0',
    '10.0.0.0/33',
    '10.0.0/8',
    '010.0.0.0/8',
    '0x7f.0.0.0/8',
    'fd00::/129',
    '10.0.0.0/08',
    ' 10.0.0.0/8',
  ]) {
    assert.equal(parseCidr(bad).ok, false, bad);
  }
  assert.equal(parseIp('fe80::1%eth0').ok, false);
});

test('overlap and containment', () => {
  assert.equal(cidrsOverlap(c('10.0.0.0/8'), c('10.1.0.0/16')), true);
  assert.equal(cidrsOverlap(c('10.0.0.0/16'), c('10.1.0.0/16')), false);
  assert.equal(cidrsOverlap(c('10.0.0.0/8'), c('fd00::/8')), false);
  assert.equal(cidrContains(c('10.0.0.0/8'), c('10.1.0.0/16')), true);
  assert.equal(cidrContains(c('10.1.0.0/16'), c('10.0.0.0/8')), false);
});
