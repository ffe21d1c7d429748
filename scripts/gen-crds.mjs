// Writes deploy/crds/ from the TypeScript sources (the validator's schema, the store's records).
// Run: node --import tsx scripts/gen-crds.mjs
import { writeFileSync } from 'node:fs';
import { networkCrdYaml } from '../src/api/network-crd.ts';
import { storeCrdFiles } from '../src/store/kube-crds.ts';

writeFileSync('deploy/crds/projectcalico.org_networks.yaml', networkCrdYaml());
console.log('wrote deploy/crds/projectcalico.org_networks.yaml');
for (const { file, yaml } of storeCrdFiles()) {
  writeFileSync(`deploy/crds/${file}`, yaml);
  console.log(`wrote deploy/crds/${file}`);
}
