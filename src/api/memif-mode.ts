// The memif mode a pod asks for, in the reference's annotation (Calico/VPP):
// `cni.projectcalico.org/vppInterfacesSpec: '{"memif1": {"isl3": true}}'`: `isl3: true` is IP mode
// (bare IP packets on the memif), else ethernet mode. The reference's queue and ring-size keys
// (rx, tx, rxqsz, txqsz, ...) are not used by multinet (one ring per direction, the client picks
// its ring size): they are reported as ignored, never silently dropped. Pure.
export const VPP_INTERFACES_SPEC = 'cni.projectcalico.org/vppInterfacesSpec';

export interface MemifModeAsked {
  readonly mode: 'ethernet' | 'ip';
  /** Keys of the interface's entry that multinet does not use. */
  readonly ignored: readonly string[];
}

/** The mode for one memif interface from the pod's annotations; an error names the field. */
export function memifModeOf(
  annotations: Readonly<Record<string, string>> | undefined,
  ifName: string,
): MemifModeAsked | { readonly error: string } {
  const text = annotations?.[VPP_INTERFACES_SPEC];
  if (text === undefined) return { mode: 'ethernet', ignored: [] };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { error: `annotation ${VPP_INTERFACES_SPEC}: not JSON (${(e as Error).message})` };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return { error: `annotation ${VPP_INTERFACES_SPEC}: must be a JSON object of interface name -> spec` };
  const entry = (v as Record<string, unknown>)[ifName];
  if (entry === undefined) return { mode: 'ethernet', ignored: [] };
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
    return { error: `annotation ${VPP_INTERFACES_SPEC}: ${ifName}: must be an object` };
  const e = entry as Record<string, unknown>;
  if (e.isl3 !== undefined && typeof e.isl3 !== 'boolean')
    return { error: `annotation ${VPP_INTERFACES_SPEC}: ${ifName}.isl3: must be true or false` };
  return {
    mode: e.isl3 === true ? 'ip' : 'ethernet',
    ignored: Object.keys(e)
      .filter((k) => k !== 'isl3')
      .sort(),
  };
}
