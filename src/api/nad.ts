// NetworkAttachmentDefinition (k8s.cni.cncf.io/v1): `spec.config` is a CNI config (one plugin) or
// conflist. Ours is the plugin of type `calico` (the reference's form, network named in
// `dataplane_options.network_name`) or `multinet` (our own: `"network": "<name>"` or the same
// dataplane_options). IPAM types in AGENT_IPAM_TYPES are ours; any other is a delegated plugin, and
// so is ours when the plugin says `"delegateIpam": true` (the real Whereabouts from CNI_PATH).
import { readIpamRanges } from './ipam-range.js';
import { ipamKeyIssue, IPAM_KEYS } from './ipam-keys.js';
import { Fields } from './fields.js';
import { IssueSink, type FieldPath } from './issues.js';
import type { IpamConfig, IpamRange, MultinetPlugin, NetAttachDef, ObjectMeta, SourceRef } from './types.js';

export const OUR_PLUGIN_TYPES = ['calico', 'multinet'] as const;
/** IPAM types the agent allocates itself (Whereabouts semantics); others are delegated plugins. */
export const AGENT_IPAM_TYPES: readonly string[] = ['whereabouts', 'multinet-ipam'];
/**
 * Our plugin's key asking for ipam.type to be run as a plugin even when it is one of ours: the
 * user keeps the real Whereabouts (its IPPool CRs) instead of the agent's IPAM. Explicit, never
 * guessed from other keys.
 */
export const DELEGATE_IPAM_KEY = 'delegateIpam';

/**
 * JSON.parse that tolerates trailing commas before `}` or `]`. The seed's NAD has
 * `"type": "whereabouts",` followed by `}`, and the reference's YAML must work as written;
 * Multus itself would reject it, so we accept it but the caller emits a note.
 */
export function parseLenientJson(
  text: string,
): { ok: true; value: unknown; trailingCommas: number } | { ok: false; error: string } {
  let out = '';
  let trailing = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    if (c === ',') {
      let j = i + 1;
      while (j < text.length && /\s/.test(text[j]!)) j++;
      if (text[j] === '}' || text[j] === ']') {
        trailing++;
        continue;
      }
    }
    out += c;
  }
  try {
    return { ok: true, value: JSON.parse(out), trailingCommas: trailing };
  } catch (e) {
    return { ok: false, error: `spec.config is not valid JSON: ${(e as Error).message}` };
  }
}

export function validateNad(
  f: Fields,
  head: { apiVersion: string; kind: string; metadata: ObjectMeta; source: SourceRef },
  rawSpec: unknown,
): NetAttachDef | undefined {
  const spec = f.object(['spec'], rawSpec, true);
  if (!spec) return undefined;
  f.onlyFields(['spec'], spec, ['config']);
  const config = f.string(['spec', 'config'], spec.config, true);
  if (config === undefined) return undefined;
  const cpath: FieldPath = ['spec', 'config'];
  const parsed = parseLenientJson(config);
  if (!parsed.ok) {
    f.sink.error(cpath, parsed.error.replace(/^spec\.config /, ''));
    return undefined;
  }
  if (parsed.trailingCommas > 0) {
    f.sink.warning(
      cpath,
      `${parsed.trailingCommas} trailing comma(s): multinet validate reads past them, but Multus parses spec.config as strict JSON and fails every pod attached through this NAD; remove them`,
    );
  }
  const conf = f.object(cpath, parsed.value, true);
  if (!conf) return undefined;
  const cniVersion = f.string([...cpath, 'cniVersion'], conf.cniVersion);
  if (conf.cniVersion === undefined && conf.plugins !== undefined)
    f.sink.warning(
      [...cpath, 'cniVersion'],
      'missing: Multus hands the plugins the conflist\'s cniVersion as written, and a plugin reads none as 0.1.0, which multinet does not speak (0.3.0 to 1.1.0): attachments fail; add e.g. "cniVersion": "0.3.1"',
    );
  const configName = f.string([...cpath, 'name'], conf.name);
  let plugins: Record<string, unknown>[];
  let pluginsPath: FieldPath;
  if (conf.plugins !== undefined) {
    if (conf.type !== undefined) f.sink.error([...cpath, 'type'], 'a conflist has "plugins", not "type"');
    const list = f.list([...cpath, 'plugins'], conf.plugins, true);
    if (!list) return undefined;
    pluginsPath = [...cpath, 'plugins'];
    plugins = [];
    list.forEach((p, i) => {
      const o = f.object([...pluginsPath, i], p, true);
      if (o) plugins.push(o);
    });
    if (list.length === 0) f.sink.error(pluginsPath, 'must list at least one plugin');
  } else {
    plugins = [conf];
    pluginsPath = [];
  }
  const pathOf = (i: number): FieldPath => (pluginsPath.length ? [...pluginsPath, i] : cpath);
  plugins.forEach((p, i) => {
    if (typeof p.type !== 'string' || p.type === '')
      f.sink.error([...pathOf(i), 'type'], 'every plugin needs a "type"');
  });
  const ours = plugins
    .map((p, i) => ({ p, i }))
    .filter(({ p }) => (OUR_PLUGIN_TYPES as readonly unknown[]).includes(p.type));
  if (ours.length === 0) {
    f.sink.error(
      cpath,
      `no plugin of type ${OUR_PLUGIN_TYPES.map((t) => `"${t}"`).join(' or ')}: multinet would not handle this attachment`,
    );
    return undefined;
  }
  if (ours.length > 1) {
    f.sink.error(pathOf(ours[1]!.i), 'more than one multinet plugin in one conflist');
    return undefined;
  }
  const { p, i } = ours[0]!;
  const plugin = validatePlugin(f, pathOf(i), p);
  if (!plugin || f.sink.errorCount > 0) return undefined;
  return {
    ...head,
    type: 'NetworkAttachmentDefinition',
    spec: {
      config,
      ...(cniVersion !== undefined ? { cniVersion } : {}),
      ...(configName !== undefined ? { configName } : {}),
      plugins,
      pluginIndex: i,
      plugin,
    },
  };
}

function validatePlugin(f: Fields, path: FieldPath, p: Record<string, unknown>): MultinetPlugin | undefined {
  let network: string | undefined;
  if (p.type === 'calico') {
    const dpo = f.object([...path, 'dataplane_options'], p.dataplane_options);
    network = f.string([...path, 'dataplane_options', 'network_name'], dpo?.network_name);
    if (network === undefined || network === '') {
      f.sink.error(
        [...path, 'dataplane_options', 'network_name'],
        'is required: a calico plugin without it attaches to the default network, not a multinet Network',
      );
      return undefined;
    }
  } else {
    // Our own type takes the network at top level or, like the reference, in dataplane_options.
    const dpo = f.object([...path, 'dataplane_options'], p.dataplane_options);
    network = f.string([...path, 'network'], p.network, dpo?.network_name === undefined);
    network ??= f.string([...path, 'dataplane_options', 'network_name'], dpo?.network_name, true);
    if (network === undefined) return undefined;
  }
  const delegate = f.boolean([...path, DELEGATE_IPAM_KEY], p[DELEGATE_IPAM_KEY]) ?? false;
  const ipamRaw = f.object([...path, 'ipam'], p.ipam, true);
  if (!ipamRaw) return undefined;
  const ipam = validateIpam(f, [...path, 'ipam'], ipamRaw, network, delegate);
  if (!ipam) return undefined;
  return { type: p.type as 'calico' | 'multinet', network, ipam, raw: p };
}

function validateIpam(
  f: Fields,
  path: FieldPath,
  o: Record<string, unknown>,
  network: string,
  delegate: boolean,
): IpamConfig | undefined {
  const type = f.string([...path, 'type'], o.type, true);
  const owned = type !== undefined && AGENT_IPAM_TYPES.includes(type);
  const delegatePath: FieldPath = [...path.slice(0, -1), DELEGATE_IPAM_KEY];
  if (delegate && !owned && type !== undefined)
    f.sink.note(delegatePath, `has no effect: ipam type "${type}" is run as a plugin anyway`);
  if (delegate && type === 'multinet-ipam') {
    f.sink.error(
      delegatePath,
      '"multinet-ipam" is only multinet\'s own IPAM: there is no such plugin to run',
    );
    return undefined;
  }
  if (delegate && type === 'whereabouts')
    f.sink.note(
      [...path, 'type'],
      'run as the Whereabouts plugin from CNI_PATH ("delegateIpam": true): addresses come from its IPPool CRs, not from multinet\'s IPAM; it needs its config file ("configuration_path", or /etc/cni/net.d/whereabouts.d/whereabouts.conf, naming its kubeconfig) and RBAC of its own',
    );
  if (type !== undefined && (!owned || delegate)) {
    // Any other IPAM type is delegated to that plugin (CNI spec); its keys are its own business.
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(type)) {
      f.sink.error([...path, 'type'], `"${type}" is not a plugin name (letters, digits, '_', '.', '-')`);
      return undefined;
    }
    // The real Whereabouts: its ranges, read as ours are (quietly: its own checks are its own), so
    // that cross-validation can say when they leave the Network's range (pods route only that).
    let ranges: IpamRange[] = [];
    if (type === 'whereabouts') {
      const probe = new Fields(new IssueSink(f.sink.file, () => 0, f.sink.object));
      const read = readIpamRanges(probe, path, o);
      if (probe.sink.errorCount === 0) ranges = read;
    }
    return { type, ranges, rangeFromNetwork: false, enableOverlappingRanges: true, raw: o };
  }
  for (const k of Object.keys(o)) {
    const issue = IPAM_KEYS.includes(k) ? undefined : ipamKeyIssue(k);
    if (issue?.severity === 'note') f.sink.note([...path, k], issue.reason);
    else if (issue) f.sink.error([...path, k], issue.reason);
  }
  if (type === 'whereabouts')
    f.sink.note(
      [...path, 'type'],
      'served by multinet\'s own IPAM (Whereabouts semantics, records in multinet\'s datastore; no Whereabouts binary or IPPool CRs); to run the real Whereabouts plugin from CNI_PATH instead, set "delegateIpam": true next to "ipam" in this plugin\'s config',
    );
  const net = f.string([...path, 'network'], o.network);
  if (net !== undefined && net !== network) {
    f.sink.error(
      [...path, 'network'],
      `"${net}" differs from the plugin's network "${network}" (one NAD maps to one network)`,
    );
  }
  const networkName = f.string([...path, 'network_name'], o.network_name);
  const enableOverlappingRanges =
    f.boolean([...path, 'enable_overlapping_ranges'], o.enable_overlapping_ranges) ?? true;
  const ranges = readIpamRanges(f, path, o);
  if (f.sink.errorCount > 0) return undefined;
  return {
    type: type ?? 'whereabouts',
    ranges,
    rangeFromNetwork: ranges.length === 0,
    ...(net !== undefined ? { network: net } : {}),
    ...(networkName !== undefined ? { networkName } : {}),
    enableOverlappingRanges,
    raw: o,
  };
}
