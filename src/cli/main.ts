// The `multinet` command. Each subcommand lives in its own cmd-*.ts file and registers itself here.
import { Command } from 'commander';
import { register as registerValidate } from './cmd-validate.js';
import { register as registerIpam } from './cmd-ipam.js';
import { register as registerDataplane } from './cmd-dataplane.js';
import { register as registerAgent } from './cmd-agent.js';
import { register as registerInstallCni } from './cmd-install-cni.js';
import { register as registerLab } from './cmd-lab.js';

const program = new Command('multinet')
  .description('Multi-network Kubernetes pods on the Linux kernel dataplane')
  .version('0.1.0');

registerValidate(program);
registerIpam(program);
registerDataplane(program);
registerAgent(program);
registerInstallCni(program);
registerLab(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`multinet: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
