// Network (projectcalico.org/v3): validated against networkSpecSchema, the same schema the CRD
// in deploy/crds/ is generated from.
import { parseCidr, type Cidr } from './cidr.js';
import type { Fields } from './fields.js';
import { networkSpecSchema, type PropertySchema } from './network-schema.js';
import type { Network, ObjectMeta, SourceRef } from './types.js';

function checkProperty(f: Fields, name: string, schema: PropertySchema, v: unknown): unknown {
  const path = ['spec', name];
  const required = networkSpecSchema.required.includes(name);
  if (schema.type === 'integer') {
    return f.integer(path, v, { required, min: schema.minimum, max: schema.maximum });
  }
  const s = f.string(path, v, required);
  if (s === undefined) return undefined;
  if (schema.maxLength !== undefined && s.length > schema.maxLength) {
    f.sink.error(path, `is longer than ${schema.maxLength} characters`);
    return undefined;
  }
  if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(s)) {
    f.sink.error(path, `"${s}" does not match ${schema.pattern}`);
    return undefined;
  }
  if (schema.format === 'cidr') {
    const c = parseCidr(s);
    if (!c.ok) {
      f.sink.error(path, c.error);
      return undefined;
    }
    return c.value;
  }
  return s;
}

export function validateNetwork(
  f: Fields,
  head: { apiVersion: string; kind: string; metadata: ObjectMeta; source: SourceRef },
  rawSpec: unknown,
): Network | undefined {
  const spec = f.object(['spec'], rawSpec, true);
  if (!spec) return undefined;
  f.onlyFields(['spec'], spec, Object.keys(networkSpecSchema.properties));
  const values: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(networkSpecSchema.properties)) {
    values[name] = checkProperty(f, name, schema, spec[name]);
  }
  const range = values.range as Cidr | undefined;
  if (range) {
    const hostBits = (range.family === 4 ? 32 : 128) - range.prefixLength;
    if (hostBits === 0) f.sink.error(['spec', 'range'], `${range.text} leaves no room for pod addresses`);
  }
  if (f.sink.errorCount > 0) return undefined;
  return {
    ...head,
    type: 'Network',
    spec: {
      vni: values.vni as number,
      range: range!,
      physicalNetworkName: (values.physicalNetworkName as string | undefined) ?? '',
      ...(values.vxlanPort !== undefined ? { vxlanPort: values.vxlanPort as number } : {}),
    },
  };
}
