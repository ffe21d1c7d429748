// Forks load-worker as a separate node process (via tsx when running from TypeScript sources).
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { WorkerConfig } from './load-worker.js';

export function forkWorker(cfg: WorkerConfig): ChildProcess {
  const fromTs = import.meta.url.endsWith('.ts');
  const script = fileURLToPath(new URL(`./load-worker.${fromTs ? 'ts' : 'js'}`, import.meta.url));
  const child = fork(script, [], {
    execArgv: fromTs ? ['--import', 'tsx'] : [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  child.send(cfg);
  return child;
}

export function waitMessage<T = { type: string }>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: { type: string }) => {
      if (m.type === type) {
        child.off('message', onMsg);
        child.off('exit', onExit);
        resolve(m as T);
      }
    };
    const onExit = (code: number | null) => reject(new Error(`worker exited with ${code} before "${type}"`));
    child.on('message', onMsg);
    child.once('exit', onExit);
  });
}
