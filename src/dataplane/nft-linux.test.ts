// The nft contract against the real kernel, in throwaway namespaces `mn-svct-<rand>` (needs root).
import { ProcessRunner, runChecked } from '../util/exec.js';
import { nftContract } from './nft-contract.js';

const root = process.getuid?.() === 0;

nftContract(
  'linux',
  async () => {
    const runner = new ProcessRunner();
    return {
      runner,
      addNetns: async (n) => void (await runChecked(runner, 'ip', ['netns', 'add', n])),
      deleteNetns: async (n) => void (await runner.run('ip', ['netns', 'del', n])),
      exec: async (n, script) =>
        void (await runChecked(runner, 'ip', ['netns', 'exec', n, 'nft', '-f', '-'], { input: script })),
    };
  },
  { skip: root ? false : 'needs root (network namespaces)' },
);
