import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ACK, PROTOCOL_VERSION, type CniRequest } from '../cni/protocol.js';
import { FakeCniHandler } from './cni-fake-handler.js';
import { deliverAnswer, type Answer, type AnswerConn } from './cni-answer.js';
import { answerJson } from './cni-json-answer.js';
import { answerShim } from './cni-shim-answer.js';

const ctx = { signal: new AbortController().signal };

const addReq: CniRequest = {
  protocol: PROTOCOL_VERSION,
  command: 'ADD',
  containerId: 'c1',
  netns: '/var/run/netns/x',
  ifName: 'eth1',
  args: {},
  netConf: {
    cniVersion: '1.0.0',
    name: 'net-blue',
    type: 'calico',
    dataplane_options: { network_name: 'blue' },
  },
  ipam: 'agent',
};

const conf = JSON.stringify({
  cniVersion: '1.0.0',
  name: 'net-blue',
  type: 'calico',
  ipam: { type: 'whereabouts' },
  dataplane_options: { network_name: 'blue' },
});
const shimEnv = (cmd: string) => ({
  CNI_COMMAND: cmd,
  CNI_CONTAINERID: 'c1',
  CNI_NETNS: '/var/run/netns/x',
  CNI_IFNAME: 'eth1',
  CNI_PATH: '/usr/lib/cni',
});

/** Both framings, each building its answer from the same handler. */
const framings: Record<string, (h: FakeCniHandler, cmd: 'ADD' | 'DEL') => Promise<Answer>> = {
  json: (h, cmd) => answerJson(h, { ...addReq, command: cmd }, ctx),
  shim: (h, cmd) => answerShim(h, { shim: 1, env: shimEnv(cmd), stdin: conf }, ctx),
};

/** A plugin connection: answers the result with `reply` (undefined: says nothing), records what it got. */
function fakeConn(reply: string | undefined, aborted = false) {
  const got: { written: string[]; ended: boolean; waitedMs?: number } = { written: [], ended: false };
  const conn: AnswerConn = {
    aborted,
    write: (b) => void got.written.push(b.toString()),
    end: (b) => {
      if (b !== undefined) got.written.push(b.toString());
      got.ended = true;
    },
    nextLine: async (ms) => {
      got.waitedMs = ms;
      return reply;
    },
  };
  return { conn, got };
}

describe('one ack-or-undo path for both framings', () => {
  for (const [name, answer] of Object.entries(framings)) {
    test(`${name}: an acknowledged ADD result is kept`, async () => {
      const h = new FakeCniHandler();
      const a = await answer(h, 'ADD');
      assert.equal(a.added?.ifName, 'eth1');
      const { conn, got } = fakeConn(ACK);
      await deliverAnswer(conn, a, h, undefined, 50);
      assert.equal(got.written.length, 1);
      assert.ok(got.ended);
      assert.equal(got.waitedMs, 50);
      assert.deepEqual(
        h.calls.map((c) => c.command),
        ['ADD'],
      );
      assert.equal(h.attachments.size, 1);
    });

    test(`${name}: an unacknowledged ADD result is undone`, async () => {
      for (const reply of [undefined, 'nope']) {
        const h = new FakeCniHandler();
        const { conn, got } = fakeConn(reply);
        await deliverAnswer(conn, await answer(h, 'ADD'), h, undefined, 50);
        assert.equal(got.written.length, 1, 'the result went out');
        assert.deepEqual(
          h.calls.map((c) => c.command),
          ['ADD', 'DEL'],
        );
        assert.equal(h.calls[1]?.containerId, 'c1');
        assert.equal(h.attachments.size, 0);
      }
    });

    test(`${name}: an ADD finished after the plugin hung up is undone, nothing written`, async () => {
      const h = new FakeCniHandler();
      const { conn, got } = fakeConn(ACK, true);
      await deliverAnswer(conn, await answer(h, 'ADD'), h, undefined, 50);
      assert.deepEqual(got.written, []);
      assert.equal(got.waitedMs, undefined, 'no ack awaited from a plugin that left');
      assert.equal(h.attachments.size, 0);
    });

    test(`${name}: failed ADDs and other commands are sent without waiting for an ack`, async () => {
      const h = new FakeCniHandler();
      h.failNext('ADD', new Error('boom'));
      for (const a of [await answer(h, 'ADD'), await answer(h, 'DEL')]) {
        assert.equal(a.added, undefined);
        const { conn, got } = fakeConn(undefined);
        await deliverAnswer(conn, a, h, undefined, 50);
        assert.equal(got.waitedMs, undefined);
        assert.ok(got.ended);
      }
      assert.deepEqual(
        h.calls.map((c) => c.command),
        ['ADD', 'DEL'],
      );
    });
  }

  test('a handler failure reads the same in both framings (code 100 with its message)', async () => {
    const h = new FakeCniHandler();
    h.failNext('ADD', new Error('boom'));
    const json = JSON.parse((await framings.json!(h, 'ADD')).bytes.toString());
    assert.deepEqual(json, { error: { code: 100, msg: 'multinet agent failed', details: 'boom' } });
    h.failNext('ADD', new Error('boom'));
    const shim = (await framings.shim!(h, 'ADD')).bytes.toString();
    const [header, body] = [shim.slice(0, shim.indexOf('\n')), shim.slice(shim.indexOf('\n') + 1)];
    assert.equal(header, `100 ${Buffer.byteLength(body)}`);
    assert.deepEqual(JSON.parse(body), { cniVersion: '1.0.0', ...json.error });
  });
});
