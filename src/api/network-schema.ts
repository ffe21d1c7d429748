// The one source of truth for the Network resource's spec: the TypeScript validator (network.ts)
// checks against this schema, and scripts/gen-crds.mjs writes it into deploy/crds/ as the CRD's
// OpenAPI validation. Change bounds here, then run `npm run gen:crds` (the CRD test fails otherwise).

/** VXLAN carries a 24-bit VNI; 0 is not a usable identifier. */
export const VNI_MIN = 1;
export const VNI_MAX = 16777215;

export interface PropertySchema {
  readonly type: 'integer' | 'string';
  readonly description: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
  /** `cidr` is a Kubernetes OpenAPI format; our validator parses and normalises it. */
  readonly format?: 'cidr';
}

export interface ObjectSchema {
  readonly type: 'object';
  readonly description: string;
  readonly required: readonly string[];
  readonly properties: Readonly<Record<string, PropertySchema>>;
}

export const networkSpecSchema: ObjectSchema = {
  type: 'object',
  description: 'An isolated network that pods attach to through a NetworkAttachmentDefinition.',
  required: ['vni', 'range'],
  properties: {
    vni: {
      type: 'integer',
      description: 'VXLAN network identifier carrying this network between nodes; unique per cluster.',
      minimum: VNI_MIN,
      maximum: VNI_MAX,
    },
    range: {
      type: 'string',
      description: 'IPv4 or IPv6 CIDR of the addresses given to pods in this network (no host bits).',
      format: 'cidr',
      maxLength: 43,
    },
    vxlanPort: {
      type: 'integer',
      description: 'UDP destination port of the VXLAN carrying this network; default 4789 (IANA).',
      minimum: 1,
      maximum: 65535,
    },
    physicalNetworkName: {
      type: 'string',
      description: 'Uplink that carries this network; empty means the default uplink.',
      maxLength: 253,
      pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$',
    },
  },
};
