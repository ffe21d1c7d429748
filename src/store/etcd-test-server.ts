// Starts a throwaway etcd on loopback for tests and benchmarks: temporary data directory, random
// free ports, stopped (and its directory removed) by stop(). MULTINET_TEST_ETCD=host:port (or
// etcd://host:port) uses an existing etcd instead; stop() then does nothing.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { freePort } from '../util/ports.js';

export const ETCD_BINARY = process.env.MULTINET_ETCD_BIN ?? '/usr/bin/etcd';

export interface TestEtcd {
  /** host:port of the client endpoint. */
  readonly endpoint: string;
  /** Store URL: etcd://host:port */
  readonly url: string;
  stop(): Promise<void>;
}

/** Why etcd tests cannot run here, or undefined if they can. */
export function etcdUnavailableReason(): string | undefined {
  if (process.env.MULTINET_TEST_ETCD) return undefined;
  return existsSync(ETCD_BINARY)
    ? undefined
    : `etcd binary not found at ${ETCD_BINARY} (install etcd-server)`;
}

export { freePort };

export interface OwnTestEtcd extends TestEtcd {
  /** Kills the process (SIGKILL: an outage, not a shutdown); data and ports are kept. */
  kill(): Promise<void>;
  /** Starts it again on the same data directory and ports; resolves when it answers. */
  restart(): Promise<void>;
}

/** Whether the kill/restart tests can run (they need an etcd of our own, not $MULTINET_TEST_ETCD). */
export function ownEtcdUnavailableReason(): string | undefined {
  if (process.env.MULTINET_TEST_ETCD) return 'MULTINET_TEST_ETCD is set: no etcd of our own to kill';
  return etcdUnavailableReason();
}

export async function startTestEtcd(): Promise<TestEtcd> {
  const external = process.env.MULTINET_TEST_ETCD;
  if (external) {
    const endpoint = external.replace(/^etcd:\/\//, '');
    return { endpoint, url: `etcd://${endpoint}`, stop: async () => undefined };
  }
  return startOwnTestEtcd();
}

/** An etcd process of our own (never $MULTINET_TEST_ETCD), which tests may kill and restart. */
export async function startOwnTestEtcd(): Promise<OwnTestEtcd> {
  const dir = mkdtempSync(join(tmpdir(), 'mn-etcd-'));
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const endpoint = `127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let stderr = '';
  const spawnEtcd = (): void => {
    const c = spawn(
      ETCD_BINARY,
      [
        '--name',
        'mn-test',
        '--data-dir',
        dir,
        '--listen-client-urls',
        `http://${endpoint}`,
        '--advertise-client-urls',
        `http://${endpoint}`,
        '--listen-peer-urls',
        peer,
        '--initial-advertise-peer-urls',
        peer,
        '--initial-cluster',
        `mn-test=${peer}`,
        '--logger',
        'zap',
        '--log-level',
        'error',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    c.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
    exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    child = c;
  };
  const running = (): boolean => !!child && child.exitCode === null && child.signalCode === null;
  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (!running()) return;
    child!.kill(signal);
    const t = setTimeout(() => child?.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  };
  const stop = async (): Promise<void> => {
    await kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  const waitReady = async (): Promise<void> => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child?.exitCode !== null && child?.exitCode !== undefined)
        throw new Error(`etcd exited with ${child.exitCode}: ${stderr.trim()}`);
      // A fresh client per attempt: a client that saw the port closed backs off on its own,
      // which would make "etcd answers" look later than it is.
      const client = new Etcd3({ hosts: `http://${endpoint}`, dialTimeout: 500 });
      try {
        await client.get('/').exec();
        return;
      } catch (err) {
        if (Date.now() > deadline)
          throw new Error(`etcd on ${endpoint} did not start in 15 s: ${String(err)} ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        client.close();
      }
    }
  };
  spawnEtcd();
  try {
    await waitReady();
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    endpoint,
    url: `etcd://${endpoint}`,
    stop,
    kill: () => kill('SIGKILL'),
    restart: async () => {
      await kill('SIGKILL');
      spawnEtcd();
      await waitReady();
    },
  };
}
