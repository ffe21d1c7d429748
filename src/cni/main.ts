// Entry point of the CNI plugin executable (bundled to dist/multinet-cni.mjs). Wires the process
// to runPlugin and nothing else: no logger, no store client, so a CNI exec costs one node start.
import { runPlugin } from './plugin.js';

async function readStdin(): Promise<string> {
  // VERSION (and a runtime with nothing to send) may give no stdin at all; a TTY means "none".
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const { stdout, exitCode } = await runPlugin({ env: process.env, stdin: await readStdin() });
process.stdout.write(stdout, () => process.exit(exitCode));
