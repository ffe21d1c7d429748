// Service: plain Kubernetes services (spec.selector) and multinet services, which carry their
// selector and network in annotations and have no spec.selector.
import { parseIp } from './cidr.js';
import type { Fields } from './fields.js';
import { parseLabelSelector } from './label-selector.js';
import { checkPortName } from './names.js';
import { L4_PROTOCOLS } from './pod.js';
import type { L4Protocol, ObjectMeta, Service, ServicePort, SourceRef } from './types.js';

export const SERVICE_SELECTOR_ANNOTATION = 'extensions.projectcalico.org/selector';
export const NETWORK_ANNOTATION = 'extensions.projectcalico.org/network';
const TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'] as const;

export function validateService(
  f: Fields,
  head: { apiVersion: string; kind: string; metadata: ObjectMeta; source: SourceRef },
  rawSpec: unknown,
): Service | undefined {
  const ann = head.metadata.annotations;
  const selText = ann[SERVICE_SELECTOR_ANNOTATION];
  const network = ann[NETWORK_ANNOTATION];
  const selPath = ['metadata', 'annotations', SERVICE_SELECTOR_ANNOTATION];
  const netPath = ['metadata', 'annotations', NETWORK_ANNOTATION];
  let multinet: Service['multinet'];
  if (selText !== undefined || network !== undefined) {
    if (network === undefined || network === '')
      f.sink.error(netPath, `is required next to ${SERVICE_SELECTOR_ANNOTATION}`);
    if (selText === undefined) f.sink.error(selPath, `is required next to ${NETWORK_ANNOTATION}`);
    else {
      const sel = parseLabelSelector(selText);
      if (!sel.ok) f.sink.error(selPath, sel.error);
      else if (sel.value.length === 0)
        f.sink.error(selPath, 'is empty: it would select every pod of the network');
      else if (network) multinet = { network, selector: sel.value, selectorText: selText };
    }
  }
  const spec = f.object(['spec'], rawSpec) ?? {};
  const type = (f.string(['spec', 'type'], spec.type) ?? 'ClusterIP') as Service['spec']['type'];
  if (!TYPES.includes(type)) f.sink.error(['spec', 'type'], `"${type}" must be one of ${TYPES.join(', ')}`);
  else if (multinet && type !== 'ClusterIP')
    f.sink.error(['spec', 'type'], 'multinet services are ClusterIP only');
  const selector = spec.selector === undefined ? undefined : f.stringMap(['spec', 'selector'], spec.selector);
  if (multinet && selector !== undefined) {
    f.sink.note(
      ['spec', 'selector'],
      'is set too: Kubernetes will also pick endpoints in the default network',
    );
  }
  const clusterIP = f.string(['spec', 'clusterIP'], spec.clusterIP) ?? '';
  if (clusterIP !== '' && clusterIP !== 'None') {
    const ip = parseIp(clusterIP);
    if (!ip.ok) f.sink.error(['spec', 'clusterIP'], `${ip.error} (use "", "None" or an IP)`);
  }
  const sessionAffinity = (f.string(['spec', 'sessionAffinity'], spec.sessionAffinity) ?? 'None') as
    'None' | 'ClientIP';
  if (sessionAffinity !== 'None' && sessionAffinity !== 'ClientIP') {
    f.sink.error(['spec', 'sessionAffinity'], `"${sessionAffinity as string}" must be None or ClientIP`);
  }
  const ports: ServicePort[] = [];
  const list = f.list(['spec', 'ports'], spec.ports, type !== 'ExternalName' && clusterIP !== 'None');
  if (list && list.length === 0 && type !== 'ExternalName' && clusterIP !== 'None') {
    f.sink.error(['spec', 'ports'], 'must list at least one port');
  }
  const seenNames = new Set<string>();
  const seenPorts = new Set<string>();
  list?.forEach((p, i) => {
    const pp = ['spec', 'ports', i];
    const po = f.object(pp, p, true);
    if (!po) return;
    const port = f.integer([...pp, 'port'], po.port, { required: true, min: 1, max: 65535 });
    const protocol = (f.string([...pp, 'protocol'], po.protocol) ?? 'TCP') as L4Protocol;
    if (!L4_PROTOCOLS.includes(protocol))
      f.sink.error([...pp, 'protocol'], `"${protocol}" must be TCP, UDP or SCTP`);
    const name = f.string([...pp, 'name'], po.name);
    if (name !== undefined && name !== '') {
      if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 63) {
        f.sink.error([...pp, 'name'], `"${name}" must be a DNS label (lowercase letters, digits, '-')`);
      } else if (seenNames.has(name)) f.sink.error([...pp, 'name'], `"${name}" is used by another port`);
      seenNames.add(name);
    } else if (list.length > 1) {
      f.sink.error([...pp, 'name'], 'is required when a service has more than one port');
    }
    let targetPort: number | string | undefined = port;
    if (po.targetPort !== undefined) {
      if (typeof po.targetPort === 'number') {
        targetPort = f.integer([...pp, 'targetPort'], po.targetPort, { min: 1, max: 65535 });
      } else if (typeof po.targetPort === 'string') {
        const err = /^\d+$/.test(po.targetPort)
          ? 'a number must not be quoted'
          : checkPortName(po.targetPort);
        if (err) {
          f.sink.error([...pp, 'targetPort'], err);
          targetPort = undefined;
        } else targetPort = po.targetPort;
      } else {
        f.sink.error([...pp, 'targetPort'], 'must be a port number or a container port name');
        targetPort = undefined;
      }
    }
    if (port !== undefined) {
      const key = `${port}/${protocol}`;
      if (seenPorts.has(key)) f.sink.error([...pp, 'port'], `${key} is listed twice`);
      seenPorts.add(key);
    }
    if (port !== undefined && targetPort !== undefined) {
      ports.push({ ...(name ? { name } : {}), protocol, port, targetPort });
    }
  });
  if (f.sink.errorCount > 0) return undefined;
  return {
    ...head,
    type: 'Service',
    spec: { type, ports, ...(selector ? { selector } : {}), clusterIP, sessionAffinity },
    ...(multinet ? { multinet } : {}),
  };
}
