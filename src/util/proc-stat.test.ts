import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cpuUsage,
  otherUsers,
  parseCpuStat,
  parseTaskStat,
  processUsage,
  sampleProcess,
} from './proc-stat.js';

// A real line of this kernel (cat's own), with utime 7, stime 3 and processor 1 put in.
const CAT =
  '10945 (cat) R 10943 10943 9240 0 -1 4194304 99 0 0 0 7 3 0 0 20 0 1 0 1503889 3133440 360 18446744073709551615 93879309860864 93879309880745 140734961945744 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 93879309896752 93879309898368 93879621656576 140734961949379 140734961949399 140734961949399 140734961950699 0';

test('a /proc stat line: comm, user+system ticks, the CPU it last ran on', () => {
  assert.deepEqual(parseTaskStat(CAT), { pid: 10945, comm: 'cat', ticks: 10, processor: 1 });
  // comm may hold spaces and parentheses: fields are counted from the last ')'.
  const odd = CAT.replace('(cat)', '(a) b (c)');
  assert.deepEqual(parseTaskStat(odd), { pid: 10945, comm: 'a) b (c', ticks: 10, processor: 1 });
  assert.throws(() => parseTaskStat('garbage'), /not a \/proc stat line/);
  assert.throws(() => parseTaskStat('1 (x) R 1 2'), /no field 14/);
});

test('/proc/stat: per-CPU busy, softirq and steal shares between two samples; the aggregate line is left out', () => {
  const a = parseCpuStat(
    'cpu  300 0 100 600 0 0 0 0 0 0\ncpu0 100 0 50 300 0 0 0 0 0 0\ncpu1 200 0 50 300 0 0 0 0 0 0\nintr 1 2 3\n',
  );
  assert.deepEqual([...a.keys()], [0, 1]);
  // cpu0: +100 ticks, 50 user + 20 softirq + 10 steal busy-ish, 20 idle. cpu1: all idle.
  const b = parseCpuStat('cpu0 150 0 50 320 0 0 20 10 0 0\ncpu1 200 0 50 400 0 0 0 0 0 0\n');
  assert.deepEqual(cpuUsage(a, b), [
    { cpu: 0, busy: 0.7, softirq: 0.2, steal: 0.1 },
    { cpu: 1, busy: 0, softirq: 0, steal: 0 },
  ]);
});

test("a process's CPU over a window: the whole process, and the CPUs its busy threads ran on", () => {
  const t = (pid: number, ticks: number, processor: number) => ({ pid, comm: 'x', ticks, processor });
  const before = { process: t(1, 100, 0), threads: [t(1, 40, 0), t(2, 60, 1), t(3, 0, 0)] };
  // Over 2 s: thread 2 ran 2 s on CPU 1 (a full core), thread 1 0.05 s, thread 3 (new) 0.5 s on 0.
  const after = { process: t(1, 355, 0), threads: [t(1, 45, 0), t(2, 260, 1), t(3, 50, 0)] };
  assert.deepEqual(processUsage(before, after, 2), { cpu: 1.275, ranOn: [0, 1] });
  assert.deepEqual(processUsage(before, after, 2, 0.5), { cpu: 1.275, ranOn: [1] });
});

test('sampling this process works without root', () => {
  const s = sampleProcess(process.pid);
  assert.equal(s.process.pid, process.pid);
  assert.ok(s.threads.length >= 1);
});

test('other users over a window: not mine, busiest first, new processes from zero, idle ones left out', () => {
  const t = (pid: number, comm: string, ticks: number) => ({ pid, comm, ticks, processor: 0 });
  const before = new Map([
    [1, t(1, 'mine', 0)],
    [2, t(2, 'tsc', 100)],
    [3, t(3, 'idle', 5)],
  ]);
  const after = new Map([
    [1, t(1, 'mine', 300)],
    [2, t(2, 'tsc', 250)],
    [3, t(3, 'idle', 5)],
    [4, t(4, 'micro', 200)],
  ]);
  assert.deepEqual(otherUsers(before, after, 2, new Set([1])), [
    { pid: 4, comm: 'micro', cpu: 1 },
    { pid: 2, comm: 'tsc', cpu: 0.75 },
  ]);
});
