// Pod: containers and ports (for named target ports), and the secondary attachments of the
// `k8s.v1.cni.cncf.io/networks` annotation.
import type { Fields } from './fields.js';
import { NETWORKS_ANNOTATION, parseNetworksAnnotation, type Attachment } from './networks-annotation.js';
import { checkDns1123Subdomain, checkPortName } from './names.js';
import type { Container, ContainerPort, L4Protocol, ObjectMeta, Pod, SourceRef } from './types.js';

export const L4_PROTOCOLS: readonly L4Protocol[] = ['TCP', 'UDP', 'SCTP'];

export function validatePod(
  f: Fields,
  head: { apiVersion: string; kind: string; metadata: ObjectMeta; source: SourceRef },
  rawSpec: unknown,
): Pod | undefined {
  const annPath = ['metadata', 'annotations', NETWORKS_ANNOTATION];
  let attachments: Attachment[] = [];
  const ann = head.metadata.annotations[NETWORKS_ANNOTATION];
  if (ann !== undefined) {
    const r = parseNetworksAnnotation(ann, head.metadata.namespace ?? 'default');
    if (r.ok) attachments = r.value;
    else for (const e of r.errors) f.sink.error(annPath, e.path ? `${e.path}: ${e.reason}` : e.reason);
  }
  const spec = f.object(['spec'], rawSpec, true);
  if (!spec) return undefined;
  const nodeName = f.string(['spec', 'nodeName'], spec.nodeName);
  if (nodeName) {
    const err = checkDns1123Subdomain(nodeName);
    if (err) f.sink.error(['spec', 'nodeName'], err);
  }
  const containers: Container[] = [];
  const list = f.list(['spec', 'containers'], spec.containers, true);
  if (list && list.length === 0) f.sink.error(['spec', 'containers'], 'must list at least one container');
  const portNames = new Set<string>();
  list?.forEach((c, i) => {
    const path = ['spec', 'containers', i];
    const co = f.object(path, c, true);
    if (!co) return;
    const name = f.string([...path, 'name'], co.name, true);
    const image = f.string([...path, 'image'], co.image);
    const ports: ContainerPort[] = [];
    f.list([...path, 'ports'], co.ports)?.forEach((p, j) => {
      const pp = [...path, 'ports', j];
      const po = f.object(pp, p, true);
      if (!po) return;
      const containerPort = f.integer([...pp, 'containerPort'], po.containerPort, {
        required: true,
        min: 1,
        max: 65535,
      });
      const protocol = f.string([...pp, 'protocol'], po.protocol) ?? 'TCP';
      if (!L4_PROTOCOLS.includes(protocol as L4Protocol)) {
        f.sink.error([...pp, 'protocol'], `"${protocol}" must be TCP, UDP or SCTP`);
      }
      const pname = f.string([...pp, 'name'], po.name);
      if (pname !== undefined) {
        const err = checkPortName(pname);
        if (err) f.sink.error([...pp, 'name'], err);
        else if (portNames.has(pname))
          f.sink.error([...pp, 'name'], `port name "${pname}" is used twice in this pod`);
        portNames.add(pname);
      }
      if (containerPort !== undefined) {
        ports.push({ ...(pname ? { name: pname } : {}), containerPort, protocol: protocol as L4Protocol });
      }
    });
    if (name !== undefined) containers.push({ name, ...(image !== undefined ? { image } : {}), ports });
  });
  if (f.sink.errorCount > 0) return undefined;
  return {
    ...head,
    type: 'Pod',
    spec: { ...(nodeName ? { nodeName } : {}), containers },
    attachments,
  };
}
