// Checks across objects (pure): identities, VNIs, and every reference by name between kinds.
import { cidrContains, cidrContainsIp, cidrsOverlap } from './cidr.js';
import { formatPath, type FieldPath, type Issue, type Severity } from './issues.js';
import { isObject } from './documents.js';
import { NETWORKS_ANNOTATION, type Attachment } from './networks-annotation.js';
import { NETWORK_ANNOTATION } from './service.js';
import { objectRef, type NetAttachDef, type Network, type Pod, type Resource } from './types.js';

/** An object that exists in the input but failed validation: references to it are not reported. */
export interface PresentRef {
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
}

/** Calico's default VXLAN VNI for the pod network. */
export const CALICO_DEFAULT_VNI = 4096;

function identity(r: {
  apiVersion?: string;
  kind: string;
  metadata: { name: string; namespace?: string };
}): string {
  // crd.projectcalico.org/v1 is the storage form of projectcalico.org/v3: same objects.
  const group = r.apiVersion?.startsWith('networking.k8s.io')
    ? 'k8s'
    : r.kind === 'NetworkPolicy'
      ? 'calico'
      : '';
  return `${group}|${r.kind}|${r.metadata.namespace ?? ''}|${r.metadata.name}`;
}

function issue(r: Resource, severity: Severity, path: FieldPath, reason: string): Issue {
  let line = r.source.line;
  for (let n = path.length; n > 0; n--) {
    const l = r.source.fieldLines?.get(formatPath(path.slice(0, n)));
    if (l !== undefined) {
      line = l;
      break;
    }
  }
  return { severity, file: r.source.file, line, object: objectRef(r), path: formatPath(path), reason };
}

const where = (r: Resource): string => `${r.source.file}:${r.source.line}`;

/**
 * `ips` / `mac` asked of a NAD none of whose plugins declares the capability: Multus (libcni) passes
 * runtimeConfig only to plugins that declare it, so the request is dropped without a word.
 */
function dropped(pod: Pod, a: Attachment, nad: NetAttachDef, annPath: FieldPath): Issue[] {
  const out: Issue[] = [];
  const deviceID = typeof a.extra.deviceID === 'string' && a.extra.deviceID !== '';
  const asked: [string, boolean][] = [
    ['ips', a.ips.length > 0],
    ['mac', a.mac !== undefined],
    ['deviceID', deviceID],
    // A deviceID makes Multus hand the plugin a device-info file (memif: copied into network-status).
    ['CNIDeviceInfoFile', deviceID],
  ];
  for (const [cap, wanted] of asked) {
    if (!wanted) continue;
    const declared = nad.spec.plugins.some((p) => {
      const caps = p.capabilities;
      return isObject(caps) && caps[cap] === true;
    });
    if (declared) continue;
    const c = JSON.stringify({ [cap]: true }).replace(':', ': ');
    out.push(
      issue(
        pod,
        'warning',
        annPath,
        `[${a.index}].${cap === 'CNIDeviceInfoFile' ? 'deviceID' : cap}: NAD ${nad.metadata.namespace}/${nad.metadata.name} has no plugin with capabilities ${c}; ${cap === 'CNIDeviceInfoFile' ? 'Multus passes it no device-info file, so network-status shows no device-info' : 'Multus drops the request'} — add "capabilities": ${c} to its plugin (plugins[${nad.spec.pluginIndex}] is multinet's)`,
      ),
    );
  }
  return out;
}

/**
 * Cross-object checks over validated resources. `present` lists objects that exist but are
 * invalid, so that a bad NAD does not also make every pod using it report "unknown NAD".
 */
export function validateAll(resources: readonly Resource[], present: readonly PresentRef[] = []): Issue[] {
  const out: Issue[] = [];
  const seen = new Map<string, Resource>();
  const unique: Resource[] = [];
  for (const r of resources) {
    const id = identity(r);
    const first = seen.get(id);
    if (first)
      out.push(
        issue(r, 'error', ['metadata', 'name'], `${objectRef(r)} is already defined at ${where(first)}`),
      );
    else {
      seen.set(id, r);
      unique.push(r);
    }
  }
  const presentIds = new Set(present.map((p) => `${p.kind}|${p.namespace ?? ''}|${p.name}`));
  const networks = new Map<string, Network>();
  const nads = new Map<string, NetAttachDef>();
  for (const r of unique) {
    if (r.type === 'Network') networks.set(r.metadata.name, r);
    if (r.type === 'NetworkAttachmentDefinition') nads.set(`${r.metadata.namespace}/${r.metadata.name}`, r);
  }
  const networkKnown = (name: string): boolean => networks.has(name) || presentIds.has(`Network||${name}`);

  const byVni = new Map<number, Network>();
  const nets = [...networks.values()];
  nets.forEach((n, i) => {
    const other = byVni.get(n.spec.vni);
    if (other) {
      out.push(
        issue(
          n,
          'error',
          ['spec', 'vni'],
          `VNI ${n.spec.vni} is already used by network ${other.metadata.name} (${where(other)})`,
        ),
      );
    } else byVni.set(n.spec.vni, n);
    if (n.spec.vni === CALICO_DEFAULT_VNI) {
      out.push(
        issue(
          n,
          'note',
          ['spec', 'vni'],
          `VNI ${CALICO_DEFAULT_VNI} is Calico's default VXLAN VNI; avoid it if Calico VXLAN runs on the same nodes`,
        ),
      );
    }
    for (const m of nets.slice(0, i)) {
      if (cidrsOverlap(n.spec.range, m.spec.range)) {
        out.push(
          issue(
            n,
            'note',
            ['spec', 'range'],
            `${n.spec.range.text} overlaps network ${m.metadata.name} (${m.spec.range.text}); allowed, the networks are isolated`,
          ),
        );
      }
    }
  });

  for (const r of unique) {
    switch (r.type) {
      case 'NetworkAttachmentDefinition': {
        const cfgPath: FieldPath = ['spec', 'config'];
        const net = networks.get(r.spec.plugin.network);
        if (!net) {
          if (!networkKnown(r.spec.plugin.network)) {
            out.push(
              issue(r, 'error', cfgPath, `names network "${r.spec.plugin.network}", which is not defined`),
            );
          }
          break;
        }
        for (const range of r.spec.plugin.ipam.ranges) {
          if (!cidrContains(net.spec.range, range.range)) {
            out.push(
              issue(
                r,
                'error',
                cfgPath,
                `ipam range ${range.range.text} is not inside network ${net.metadata.name}'s range ${net.spec.range.text}`,
              ),
            );
          }
        }
        break;
      }
      case 'Pod': {
        const annPath: FieldPath = ['metadata', 'annotations', NETWORKS_ANNOTATION];
        for (const a of r.attachments) {
          const key = `${a.namespace}/${a.name}`;
          const nad = nads.get(key);
          if (!nad) {
            if (!presentIds.has(`NetworkAttachmentDefinition|${a.namespace}|${a.name}`)) {
              const hint = [...nads.values()].find((n) => n.metadata.name === a.name);
              out.push(
                issue(
                  r,
                  'error',
                  annPath,
                  `[${a.index}]: NetworkAttachmentDefinition ${key} is not defined${hint ? ` (there is one in namespace ${hint.metadata.namespace}: write ${hint.metadata.namespace}/${a.name})` : ''}`,
                ),
              );
            }
            continue;
          }
          out.push(...dropped(r, a, nad, annPath));
          const net = networks.get(nad.spec.plugin.network);
          for (const ip of a.ips) {
            const addr = ip.split('/')[0]!;
            if (net && !cidrContainsIp(net.spec.range, addr)) {
              out.push(
                issue(
                  r,
                  'error',
                  annPath,
                  `[${a.index}]: requested IP ${ip} is not inside network ${net.metadata.name} (${net.spec.range.text})`,
                ),
              );
            }
          }
        }
        break;
      }
      case 'Service':
        if (r.multinet && !networkKnown(r.multinet.network)) {
          out.push(
            issue(
              r,
              'error',
              ['metadata', 'annotations', NETWORK_ANNOTATION],
              `names network "${r.multinet.network}", which is not defined`,
            ),
          );
        }
        break;
      case 'CalicoNetworkPolicy':
      case 'CalicoGlobalNetworkPolicy':
        for (const dir of ['ingress', 'egress'] as const) {
          r.spec[dir].forEach((rule, i) => {
            if (rule.network !== undefined && !networkKnown(rule.network)) {
              out.push(
                issue(
                  r,
                  'error',
                  ['spec', dir, i, 'metadata', 'annotations', NETWORK_ANNOTATION],
                  `names network "${rule.network}", which is not defined`,
                ),
              );
            }
          });
        }
        break;
      default:
        break;
    }
  }
  return out;
}
