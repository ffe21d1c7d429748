// One contract for the nft layer, run against the real kernel (nft-linux.test.ts, as root) and the
// in-memory fake (nft-fake.test.ts): same scenarios, same expected outcomes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunOptions, RunResult, Runner } from '../util/exec.js';
import { LinuxNft } from './nft-linux.js';
import type { NftTableSpec } from './nft-types.js';

export interface NftHarness {
  readonly runner: Runner;
  addNetns(name: string): Promise<void>;
  deleteNetns(name: string): Promise<void>;
  /** Runs an nft script in a namespace outside the driver (foreign tables, tampering). */
  exec(netns: string, script: string): Promise<void>;
}

/** Wraps a runner to keep the scripts written (to assert how small a write was). */
class Recorder implements Runner {
  scripts: string[] = [];
  constructor(private readonly inner: Runner) {}
  run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult> {
    if (args.includes('-f')) this.scripts.push(opts?.input ?? '');
    return this.inner.run(cmd, args, opts);
  }
}

const SKELETON = `
  map svc { type ipv4_addr . inet_proto . inet_service : verdict; }
  set vips { type ipv4_addr; }
  chain lb1 {
  }
  chain lb2 {
  }
`;

function table(elems: { svc?: string[]; vips?: string[] }, skeleton = SKELETON): NftTableSpec {
  return {
    family: 'ip',
    name: 'mntest',
    skeleton,
    elements: { svc: elems.svc ?? [], vips: elems.vips ?? [] },
  };
}

export function nftContract(
  name: string,
  make: () => Promise<NftHarness>,
  opts: { skip?: string | false } = {},
): void {
  describe(`nft layer contract: ${name}`, { skip: opts.skip ?? false }, () => {
    let h: NftHarness;
    let rec: Recorder;
    let nft: LinuxNft;
    const suffix = Math.random().toString(36).slice(2, 8);
    const A = `mn-svct-${suffix}a`;
    const B = `mn-svct-${suffix}b`;
    before(async () => {
      h = await make();
      await h.addNetns(A);
      await h.addNetns(B);
      rec = new Recorder(h.runner);
      nft = new LinuxNft(rec);
    });
    after(async () => {
      await h?.deleteNetns(A);
      await h?.deleteNetns(B);
    });

    const elems = async (ns: string, set: string): Promise<string[]> =>
      [...((await nft.read(ns)).get('ip mntest')?.elements.get(set) ?? [])].sort();

    test('creates a table with its elements; re-reading the kernel gives the same strings', async () => {
      const r = await nft.sync(
        new Map([
          [
            A,
            [
              table({
                svc: ['10.96.0.1 . tcp . 80 : goto lb1', '10.96.0.1 . udp . 53 : goto lb2'],
                vips: ['10.96.0.1'],
              }),
            ],
          ],
        ]),
      );
      assert.deepEqual(r.errors, []);
      assert.deepEqual(await elems(A, 'svc'), [
        '10.96.0.1 . tcp . 80 : goto lb1',
        '10.96.0.1 . udp . 53 : goto lb2',
      ]);
      assert.deepEqual(await elems(A, 'vips'), ['10.96.0.1']);
      // Nothing changed: no process at all.
      const again = await nft.sync(
        new Map([
          [
            A,
            [
              table({
                svc: ['10.96.0.1 . tcp . 80 : goto lb1', '10.96.0.1 . udp . 53 : goto lb2'],
                vips: ['10.96.0.1'],
              }),
            ],
          ],
        ]),
      );
      assert.equal(again.processes, 0);
      // Full: re-reads, finds everything in place, writes nothing.
      const full = await nft.sync(
        new Map([
          [
            A,
            [
              table({
                svc: ['10.96.0.1 . tcp . 80 : goto lb1', '10.96.0.1 . udp . 53 : goto lb2'],
                vips: ['10.96.0.1'],
              }),
            ],
          ],
        ]),
        { full: true },
      );
      assert.equal(full.processes, 1);
      assert.equal(full.changes, 0);
    });

    test('an element change writes only that element; a changed map value is delete + add', async () => {
      rec.scripts = [];
      const r = await nft.sync(
        new Map([
          [
            A,
            [
              table({
                svc: ['10.96.0.1 . tcp . 80 : goto lb2', '10.96.0.1 . udp . 53 : goto lb2'],
                vips: ['10.96.0.1'],
              }),
            ],
          ],
        ]),
      );
      assert.deepEqual(r.errors, []);
      assert.equal(r.changes, 2);
      assert.equal(rec.scripts.length, 1);
      assert.equal(
        rec.scripts[0],
        'delete element ip mntest svc { 10.96.0.1 . tcp . 80 : goto lb1 }\nadd element ip mntest svc { 10.96.0.1 . tcp . 80 : goto lb2 }\n',
      );
      assert.deepEqual(await elems(A, 'svc'), [
        '10.96.0.1 . tcp . 80 : goto lb2',
        '10.96.0.1 . udp . 53 : goto lb2',
      ]);
    });

    test('a skeleton change re-creates the table in one transaction', async () => {
      rec.scripts = [];
      const sk = SKELETON + '  chain lb3 {\n  }\n';
      const r = await nft.sync(
        new Map([[A, [table({ svc: ['10.96.0.1 . tcp . 80 : goto lb3'], vips: ['10.96.0.1'] }, sk)]]]),
      );
      assert.deepEqual(r.errors, []);
      assert.equal(rec.scripts.length, 1);
      assert.match(rec.scripts[0]!, /^add table ip mntest\ndelete table ip mntest\ntable ip mntest \{/);
      assert.deepEqual(await elems(A, 'svc'), ['10.96.0.1 . tcp . 80 : goto lb3']);
    });

    test('tables not named mn* are never touched; an mn table no longer wanted is deleted', async () => {
      await h.exec(
        A,
        'table ip filter {\n  set keep { type ipv4_addr; }\n}\nadd element ip filter keep { 1.2.3.4 }\ntable ip mnold {\n  set x { type ipv4_addr; }\n}\n',
      );
      const r = await nft.sync(new Map([[A, [table({ vips: ['10.96.0.9'] })]]]), { full: true });
      assert.deepEqual(r.errors, []);
      const now = await nft.read(A);
      assert.equal(now.has('ip mnold'), false);
      assert.equal(now.has('ip filter'), false, 'read() lists only mn tables');
      const raw = await h.runner.run('ip', ['netns', 'exec', A, 'nft', '-j', 'list', 'ruleset']);
      assert.match(raw.stdout, /"keep"/);
      assert.match(raw.stdout, /1\.2\.3\.4/);
    });

    test('a change behind its back: a later write fails, the driver re-reads and converges', async () => {
      await nft.sync(new Map([[A, [table({ vips: ['10.96.0.1', '10.96.0.2'] })]]]));
      await h.exec(A, 'delete element ip mntest vips { 10.96.0.2 }\n');
      // Deleting 10.96.0.2 again fails in the kernel; the driver re-reads and writes the rest.
      const r = await nft.sync(new Map([[A, [table({ vips: ['10.96.0.1', '10.96.0.3'] })]]]));
      assert.deepEqual(r.errors, []);
      assert.deepEqual(await elems(A, 'vips'), ['10.96.0.1', '10.96.0.3']);
      // A full sync repairs drift that no write would have hit.
      await h.exec(A, 'delete element ip mntest vips { 10.96.0.3 }\n');
      const full = await nft.sync(new Map([[A, [table({ vips: ['10.96.0.1', '10.96.0.3'] })]]]), {
        full: true,
      });
      assert.deepEqual(full.errors, []);
      assert.deepEqual(await elems(A, 'vips'), ['10.96.0.1', '10.96.0.3']);
    });

    test('a rejected transaction applies nothing (not even its other tables) and is reported', async () => {
      const before_ = await nft.read(A);
      const clash = table({
        svc: ['10.96.0.7 . tcp . 80 : goto lb1', '10.96.0.7 . tcp . 80 : goto lb2'],
        vips: ['10.96.0.1', '10.96.0.3', '10.96.0.4'],
      });
      const other: NftTableSpec = {
        family: 'ip',
        name: 'mnother',
        skeleton: '  set s { type ipv4_addr; }\n',
        elements: { s: ['10.0.0.1'] },
      };
      const r = await nft.sync(new Map([[A, [clash, other]]]));
      assert.equal(r.errors.length, 1);
      assert.equal(r.errors[0]!.netns, A);
      const after_ = await nft.read(A);
      assert.deepEqual([...after_.keys()].sort(), [...before_.keys()].sort());
      assert.deepEqual(await elems(A, 'vips'), ['10.96.0.1', '10.96.0.3']);
    });

    test('namespaces are independent: a missing one is reported, the others are written', async () => {
      const r = await nft.sync(
        new Map([
          [B, [table({ vips: ['10.96.1.1'] })]],
          [`mn-svct-${suffix}x`, [table({ vips: ['10.96.1.1'] })]],
        ]),
      );
      assert.equal(r.errors.length, 1);
      assert.equal(r.errors[0]!.netns, `mn-svct-${suffix}x`);
      assert.deepEqual(await elems(B, 'vips'), ['10.96.1.1']);
    });

    test('names that are not ours are refused before anything runs', async () => {
      const n = rec.scripts.length;
      await assert.rejects(nft.sync(new Map([[A, [{ ...table({}), name: 'filter' }]]])), /must match/);
      await assert.rejects(nft.sync(new Map([['a b; rm', [table({})]]])), /not a plain netns name/);
      assert.equal(rec.scripts.length, n);
    });

    test('an empty table list removes our tables from the namespace', async () => {
      const r = await nft.sync(new Map([[B, []]]));
      assert.deepEqual(r.errors, []);
      assert.equal((await nft.read(B)).size, 0);
    });
  });
}
