// Typed views of what the agent reads: stored manifests and the plugin config Multus hands the
// CNI plugin. Validation is the api module's; this file only adapts its results.
import { Fields } from '../api/fields.js';
import { IssueSink } from '../api/issues.js';
import { validateNad } from '../api/nad.js';
import { validateNetwork } from '../api/network.js';
import type { MultinetPlugin, ObjectMeta, Resource } from '../api/types.js';
import { validateObject } from '../api/validate.js';
import type { NetworkInfo } from '../calc/node-state.js';
import type { ClusterCache } from './cache.js';

export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function meta(raw: unknown, fallbackName: string): ObjectMeta {
  const m = isObj(raw) && isObj(raw.metadata) ? raw.metadata : {};
  return {
    name: typeof m.name === 'string' ? m.name : fallbackName,
    labels: {},
    annotations: {},
    ...(typeof m.namespace === 'string' ? { namespace: m.namespace } : {}),
  };
}

function sinkFor(object: string): { f: Fields; sink: IssueSink } {
  const sink = new IssueSink('<store>', () => 0, object);
  return { f: new Fields(sink), sink };
}

function firstError(sink: IssueSink): string {
  const e = sink.issues.find((i) => i.severity === 'error');
  return e ? `${e.path ? `${e.path}: ` : ''}${e.reason}` : 'invalid';
}

/** A stored Network manifest -> what calc needs. */
export function networkInfoFromManifest(raw: unknown): Result<NetworkInfo> {
  const m = meta(raw, '?');
  const { f, sink } = sinkFor(`Network/${m.name}`);
  const n = validateNetwork(
    f,
    {
      apiVersion: 'projectcalico.org/v3',
      kind: 'Network',
      metadata: m,
      source: { file: '<store>', line: 0 },
    },
    isObj(raw) ? raw.spec : undefined,
  );
  if (!n) return { ok: false, error: firstError(sink) };
  return { ok: true, value: { name: m.name, vni: n.spec.vni, ranges: [n.spec.range.text] } };
}

/** The plugin config the CNI plugin received (one plugin of a NAD's conflist) -> our plugin. */
export function pluginFromNetConf(netConf: Record<string, unknown>): Result<MultinetPlugin> {
  const name = typeof netConf.name === 'string' ? netConf.name : 'network';
  const { f, sink } = sinkFor(`netconf/${name}`);
  const nad = validateNad(
    f,
    {
      apiVersion: 'k8s.cni.cncf.io/v1',
      kind: 'NetworkAttachmentDefinition',
      metadata: { name, labels: {}, annotations: {} },
      source: { file: '<cni>', line: 0 },
    },
    { config: JSON.stringify(netConf) },
  );
  if (!nad)
    return {
      ok: false,
      error: `network config ${JSON.stringify(name)}: ${firstError(sink).replace(/^spec\.config\.?/, '')}`,
    };
  return { ok: true, value: nad.spec.plugin };
}

/** `ns/nad` as Multus names an attachment in network-status: the NAD whose config name matches. */
export function nadNameFor(
  cache: ClusterCache,
  podNamespace: string,
  confName: string,
  network: string,
): string {
  const nads = cache.list('NetworkAttachmentDefinition');
  const inNs = nads.filter((o) => o.namespace === podNamespace || o.namespace === 'default');
  for (const o of inNs) {
    const spec = isObj(o.value) && isObj(o.value.spec) ? o.value.spec : {};
    const conf = typeof spec.config === 'string' ? spec.config : '';
    if (conf.includes(`"${confName}"`) && conf.includes(`"${network}"`)) return `${o.namespace}/${o.name}`;
  }
  return `${podNamespace}/${confName}`;
}

/** A stored manifest (Pod, Service, policy) -> its typed resource; undefined when invalid. */
export function resourceFromStored(o: { value: unknown }): Resource | undefined {
  let value = o.value;
  if (isObj(value) && 'status' in value) {
    const { status: _s, ...rest } = value;
    value = rest;
  }
  return validateObject({ file: '<store>', line: 0, index: 0, value, lines: new Map() }).resource;
}
