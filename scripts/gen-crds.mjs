// Writes deploy/crds/ from the TypeScript schema (the validator's source of truth).
// Run: node --import tsx scripts/gen-crds.mjs
import { writeFileSync } from 'node:fs';
import { networkCrdYaml } from '../src/api/network-crd.ts';

writeFileSync('deploy/crds/projectcalico.org_networks.yaml', networkCrdYaml());
console.log('wrote deploy/crds/projectcalico.org_networks.yaml');
