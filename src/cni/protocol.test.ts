import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { repoRoot } from './bundle.js';
import {
  encodeMessage,
  encodeShimAnswer,
  isShimRequest,
  PROTOCOL_VERSION,
  requestProblem,
  type CniRequest,
} from './protocol.js';

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

test('shim framing: a request is recognised by its shape; the answer is a header, then the bytes', () => {
  assert.ok(isShimRequest({ shim: 1, env: {}, stdin: '{}' }));
  assert.ok(!isShimRequest(good));
  assert.ok(!isShimRequest({ shim: 1, env: null, stdin: '' }));
  // byte length, not string length: the C side reads exactly that many bytes
  assert.equal(encodeShimAnswer(7, '{"msg":"é"}\n').toString('utf8'), '7 13\n{"msg":"é"}\n');
  assert.equal(encodeShimAnswer(0, '').toString('utf8'), '0 0\n');
});

// The seam's layering, read from the sources: cni is below agent, and both meet in protocol.ts.
const SRC = join(repoRoot(), 'src');

function importsOf(file: string): string[] {
  const text = readFileSync(join(SRC, file), 'utf8');
  return [...text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+'(\.[^']+)'/gms)].map((m) =>
    relative(SRC, resolve(dirname(join(SRC, file)), m[1]!.replace(/\.js$/, '.ts'))),
  );
}

const cniFiles = readdirSync(join(SRC, 'cni'))
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'bundle.ts')
  .map((f) => `cni/${f}`);
const seamFiles = [
  ...cniFiles,
  ...readdirSync(join(SRC, 'agent'))
    .filter((f) => /^(cni-|attach)/.test(f) && f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((f) => `agent/${f}`),
];

test('the protocol module is what both sides import; cni imports nothing of the agent', () => {
  for (const f of cniFiles)
    assert.deepEqual(
      importsOf(f).filter((i) => !i.startsWith('cni/')),
      [],
      `${f} imports only cni modules`,
    );
  // plugin side, agent side, and each framing of the agent's socket
  for (const f of [
    'cni/plugin.ts',
    'cni/agent-client.ts',
    'agent/cni-server.ts',
    'agent/cni-answer.ts',
    'agent/cni-json-answer.ts',
    'agent/cni-shim-answer.ts',
    'agent/attach.ts',
  ])
    assert.ok(importsOf(f).includes('cni/protocol.ts'), `${f} imports cni/protocol.ts`);
});

test('no import cycle among the CNI seam files', () => {
  const seam = new Set(seamFiles);
  const state = new Map<string, 'open' | 'done'>();
  const visit = (f: string, path: string[]): void => {
    state.set(f, 'open');
    for (const d of importsOf(f).filter((i) => seam.has(i))) {
      assert.notEqual(state.get(d), 'open', `cycle: ${[...path, f, d].join(' -> ')}`);
      if (!state.has(d)) visit(d, [...path, f]);
    }
    state.set(f, 'done');
  };
  for (const f of seamFiles) if (!state.has(f)) visit(f, []);
  assert.ok(seamFiles.includes('agent/cni-server.ts') && seamFiles.includes('cni/protocol.ts'));
});
