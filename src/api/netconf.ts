// The plugin config the CNI plugin received (one plugin of a NAD's conflist, as Multus hands it
// on) -> our plugin, through the same validator as a stored NAD.
import { Fields } from './fields.js';
import { IssueSink } from './issues.js';
import { validateNad } from './nad.js';
import type { MultinetPlugin } from './types.js';

export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

export function pluginFromNetConf(netConf: Record<string, unknown>): Result<MultinetPlugin> {
  const name = typeof netConf.name === 'string' ? netConf.name : 'network';
  const sink = new IssueSink('<cni>', () => 0, `netconf/${name}`);
  const nad = validateNad(
    new Fields(sink),
    {
      apiVersion: 'k8s.cni.cncf.io/v1',
      kind: 'NetworkAttachmentDefinition',
      metadata: { name, labels: {}, annotations: {} },
      source: { file: '<cni>', line: 0 },
    },
    { config: JSON.stringify(netConf) },
  );
  if (nad) return { ok: true, value: nad.spec.plugin };
  const e = sink.issues.find((i) => i.severity === 'error');
  const why = e ? `${e.path ? `${e.path}: ` : ''}${e.reason}` : 'invalid';
  return {
    ok: false,
    error: `network config ${JSON.stringify(name)}: ${why.replace(/^spec\.config\.?/, '')}`,
  };
}
