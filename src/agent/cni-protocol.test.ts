import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeMessage, PROTOCOL_VERSION, requestProblem, type CniRequest } from './cni-protocol.js';

const good: CniRequest = {
  protocol: PROTOCOL_VERSION,
  command: 'ADD',
  containerId: 'c',
  netns: '/var/run/netns/p',
  ifName: 'eth1',
  args: {},
  netConf: { cniVersion: '1.0.0', name: 'n', type: 'multinet' },
  ipam: 'agent',
};

test('one message is one line of JSON', () => {
  const line = encodeMessage({ ...good, args: { K: 'a\nb' } });
  assert.equal(line.indexOf('\n'), line.length - 1);
  assert.deepEqual(JSON.parse(line).args, { K: 'a\nb' });
});

test('requestProblem accepts a request and names what is wrong with others', () => {
  assert.equal(requestProblem(JSON.parse(encodeMessage(good))), undefined);
  assert.match(requestProblem(null) ?? '', /not a JSON object/);
  assert.match(requestProblem({ ...good, protocol: 2 }) ?? '', /protocol 2/);
  assert.match(requestProblem({ ...good, command: 'VERSION' }) ?? '', /VERSION/);
  assert.match(requestProblem({ ...good, ifName: 3 }) ?? '', /ifName/);
  assert.match(requestProblem({ ...good, netConf: null }) ?? '', /netConf/);
  assert.match(requestProblem({ ...good, ipam: 'x' }) ?? '', /ipam/);
});
