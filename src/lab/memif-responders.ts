// `lab check` probes memif interfaces too: a memif has no kernel stack, so for the check a DPDK
// application (dpdk-testpmd, icmpecho: it answers ARP and ICMP echo) is connected to each idle memif
// as its client, and pings from the other pods then go through the forwarder to it. A memif whose
// own application is connected is left alone (a second client would be refused, and taking the
// socket from a running application is not the check's business); so is an IP-mode memif (testpmd
// speaks Ethernet only). Every responder is stopped when the check ends.
import type { Endpoint } from './check.js';
import { isMemifName } from '../dataplane/naming.js';
import { Testpmd, testpmdUnavailable } from '../memif/testpmd.js';
import { listMemifd } from '../agent/memif.js';
import { memifControl, type LabConfig } from './layout.js';

export interface MemifResponder {
  stop(): Promise<void>;
}

/** The forwarder's view of one memif (a LIST line's fields). */
export type MemifEntry = Readonly<Record<string, string>>;

export interface ResponderDeps {
  /** Every forwarder's LIST, merged (the lab's nodes); a node without a forwarder gives none. */
  list(): Promise<MemifEntry[]>;
  /** Starts a responder on the pod's memif and waits until its link is up; a string says why not. */
  start(netns: string, socket: string, index: number): Promise<MemifResponder | string>;
}

export interface MemifProbes {
  /** Is this memif endpoint answered by a responder for the check? */
  probed(e: Endpoint): boolean;
  /** Why the memif interfaces not probed are not (`pod/if` -> reason). */
  readonly skipped: ReadonlyMap<string, string>;
  stop(): Promise<void>;
}

const key = (netns: string, ifName: string): string => `${netns}|${ifName}`;

/** The entry of the forwarder serving a pod's memif, by its pod netns path and socket name. */
function entryFor(entries: readonly MemifEntry[], netns: string, ifName: string): MemifEntry | undefined {
  return entries.find(
    (x) => x.sock === ifName && (x.podns === netns || x.podns?.endsWith(`/${netns}`) === true),
  );
}

export async function startMemifResponders(
  endpoints: readonly Endpoint[],
  deps: ResponderDeps,
  unavailable?: string,
): Promise<MemifProbes> {
  const memifs = new Map<string, Endpoint>();
  for (const e of endpoints) if (isMemifName(e.ifName)) memifs.set(key(e.netns, e.ifName), e);
  const skipped = new Map<string, string>();
  const running: MemifResponder[] = [];
  const answered = new Set<string>();
  const label = (e: Endpoint): string => `${e.pod}/${e.ifName}`;
  if (memifs.size > 0 && unavailable) for (const e of memifs.values()) skipped.set(label(e), unavailable);
  else if (memifs.size > 0) {
    const entries = await deps.list();
    let i = 0;
    for (const [k, e] of memifs) {
      const entry = entryFor(entries, e.netns, e.ifName);
      const why = !entry
        ? 'no memif forwarder serves it'
        : entry.state === 'connected'
          ? 'its own application is connected'
          : entry.mode === 'ip'
            ? 'IP mode (the responder speaks Ethernet)'
            : undefined;
      if (why) {
        skipped.set(label(e), why);
        continue;
      }
      const r = await deps.start(e.netns, e.ifName, i++);
      if (typeof r === 'string') skipped.set(label(e), r);
      else {
        running.push(r);
        answered.add(k);
      }
    }
  }
  return {
    probed: (e) => answered.has(key(e.netns, e.ifName)),
    skipped,
    stop: async () => {
      await Promise.all(running.splice(0).map((r) => r.stop().catch(() => undefined)));
    },
  };
}

/** The lab's responders: dpdk-testpmd in the pod's netns, the forwarders on each node's control socket. */
export function labResponderDeps(lab: Pick<LabConfig, 'dir' | 'nodes'>): ResponderDeps {
  return {
    list: async () => {
      const all = await Promise.all(
        lab.nodes.map((n) => listMemifd(memifControl(lab, n)).catch(() => new Map<string, MemifEntry>())),
      );
      return all.flatMap((m) => [...m.values()]);
    },
    start: async (netns, socket, index) => {
      let pmd: Testpmd | undefined;
      try {
        pmd = await Testpmd.start({
          netns,
          socket,
          filePrefix: `mnchk${process.pid}x${index}`,
          forwardMode: 'icmpecho',
        });
        for (let i = 0; i < 50; i++) {
          if (await pmd.linkUp()) return pmd;
          await new Promise((r) => setTimeout(r, 100));
        }
        await pmd.stop();
        return 'the responder did not connect within 5 s';
      } catch (e) {
        await pmd?.stop().catch(() => undefined);
        return `the responder did not start: ${(e as Error).message.split('\n')[0]}`;
      }
    },
  };
}

/** Why no responder can run here (dpdk-testpmd missing), or undefined. */
export function respondersUnavailable(): string | undefined {
  return testpmdUnavailable();
}
