// The nft contract against the in-memory fake.
import { FakeNftKernel } from './nft-fake.js';
import { nftContract } from './nft-contract.js';

nftContract('fake', async () => {
  const k = new FakeNftKernel();
  return {
    runner: k,
    addNetns: async (n) => k.addNetns(n),
    deleteNetns: async (n) => k.deleteNetns(n),
    exec: async (n, script) => k.tamper(n, script),
  };
});
