// CPU accounting from /proc (benchmarks): a process's or thread's `stat` line, the machine's
// per-CPU `/proc/stat` lines, and the usage between two samples. Parsing is pure; `sample*` read.
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: the unit of /proc's CPU times (100 on every Linux architecture we run on). */
export const CLOCK_TICKS = 100;

export interface TaskStat {
  readonly pid: number;
  readonly comm: string;
  /** User + system time, in clock ticks. */
  readonly ticks: number;
  /** The CPU it last ran on. */
  readonly processor: number;
}

/** One `/proc/<pid>/stat` or `/proc/<pid>/task/<tid>/stat` line (comm may hold spaces and parens). */
export function parseTaskStat(line: string): TaskStat {
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`not a /proc stat line: ${line.slice(0, 80)}`);
  // Fields after comm, from field 3 (state) on: utime is field 14, stime 15, processor 39.
  const f = line
    .slice(close + 2)
    .trim()
    .split(' ');
  const at = (field: number): number => {
    const v = f[field - 3];
    if (v === undefined || !/^-?\d+$/.test(v)) throw new Error(`/proc stat line: no field ${field}`);
    return Number(v);
  };
  return {
    pid: Number(line.slice(0, open).trim()),
    comm: line.slice(open + 1, close),
    ticks: at(14) + at(15),
    processor: at(39),
  };
}

export interface CpuTimes {
  /** Every state but idle, iowait and steal, in clock ticks. */
  readonly busy: number;
  readonly softirq: number;
  /** Time the hypervisor gave to someone else. */
  readonly steal: number;
  readonly total: number;
}

/** The `cpuN` lines of /proc/stat, by CPU number (the aggregate `cpu` line is left out). */
export function parseCpuStat(text: string): Map<number, CpuTimes> {
  const out = new Map<number, CpuTimes>();
  for (const line of text.split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    // user nice system idle iowait irq softirq steal (guest times are already inside user/nice).
    const v = m[2]!.trim().split(/\s+/).map(Number);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
    out.set(Number(m[1]), {
      busy: user + nice + system + irq + softirq,
      softirq,
      steal,
      total: user + nice + system + idle + iowait + irq + softirq + steal,
    });
  }
  return out;
}

/** Per-CPU busy, softirq and steal shares (0..1) between two /proc/stat samples. */
export function cpuUsage(
  before: Map<number, CpuTimes>,
  after: Map<number, CpuTimes>,
): { cpu: number; busy: number; softirq: number; steal: number }[] {
  return [...after.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([cpu, a]) => {
      const b = before.get(cpu) ?? { busy: 0, softirq: 0, steal: 0, total: 0 };
      const total = a.total - b.total || 1;
      return {
        cpu,
        busy: (a.busy - b.busy) / total,
        softirq: (a.softirq - b.softirq) / total,
        steal: (a.steal - b.steal) / total,
      };
    });
}

export interface ProcessSample {
  readonly process: TaskStat;
  readonly threads: readonly TaskStat[];
}

/** What one process used between two samples: CPU share (1 = one core) and the CPUs its busy
 * threads ran on (threads with at least `threadMin` of a core). */
export function processUsage(
  before: ProcessSample,
  after: ProcessSample,
  seconds: number,
  threadMin = 0.05,
): { cpu: number; ranOn: number[] } {
  const was = new Map(before.threads.map((t) => [t.pid, t.ticks]));
  const ranOn = new Set<number>();
  for (const t of after.threads)
    if ((t.ticks - (was.get(t.pid) ?? 0)) / CLOCK_TICKS / seconds >= threadMin) ranOn.add(t.processor);
  return {
    cpu: (after.process.ticks - before.process.ticks) / CLOCK_TICKS / seconds,
    ranOn: [...ranOn].sort((a, b) => a - b),
  };
}

export function sampleProcess(pid: number): ProcessSample {
  const process = parseTaskStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  const threads: TaskStat[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`))
    try {
      threads.push(parseTaskStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')));
    } catch {
      /* the thread ended meanwhile */
    }
  return { process, threads };
}

export function sampleCpus(): Map<number, CpuTimes> {
  return parseCpuStat(readFileSync('/proc/stat', 'utf8'));
}

/** Every process of the machine (kernel threads too), by pid: what else ran during a window. */
export function sampleAll(): Map<number, TaskStat> {
  const out = new Map<number, TaskStat>();
  for (const e of readdirSync('/proc'))
    if (/^\d+$/.test(e))
      try {
        const t = parseTaskStat(readFileSync(`/proc/${e}/stat`, 'utf8'));
        out.set(t.pid, t);
      } catch {
        /* it ended meanwhile */
      }
  return out;
}

/** The processes outside `mine` that used CPU between two samples, busiest first, as shares of a
 * core (processes that started during the window count from zero). */
export function otherUsers(
  before: Map<number, TaskStat>,
  after: Map<number, TaskStat>,
  seconds: number,
  mine: ReadonlySet<number>,
): { pid: number; comm: string; cpu: number }[] {
  const out: { pid: number; comm: string; cpu: number }[] = [];
  for (const [pid, a] of after) {
    if (mine.has(pid)) continue;
    const cpu = (a.ticks - (before.get(pid)?.ticks ?? 0)) / CLOCK_TICKS / seconds;
    if (cpu > 0) out.push({ pid, comm: a.comm, cpu });
  }
  return out.sort((x, y) => y.cpu - x.cpu || x.pid - y.pid);
}
