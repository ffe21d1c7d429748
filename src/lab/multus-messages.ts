// Multus' words (v4.2, pkg/multus and pkg/k8sclient), for the emulation to fail as the real thin
// plugin does: the pod's message is what kubelet's runtime reports for a failed ADD of the pod's
// one CNI network (Multus), then Multus' own error. Pure.
import type { CniCallError } from './cni-runtime.js';

/** The name of the thin plugin's network (its generated 00-multus.conf), in the runtime's message. */
export const MULTUS_NETWORK_NAME = 'multus-cni-network';

type PodTag = { readonly namespace: string; readonly name: string; readonly uid: string };
const tag = (p: PodTag): string => `${p.namespace}/${p.name}/${p.uid}`;

/** The runtime's (libcni's) message for a failed ADD of the pod's network, Multus' message inside. */
export function sandboxAddFailed(multusMessage: string): string {
  return `plugin type="multus" name="${MULTUS_NETWORK_NAME}" failed (add): ${multusMessage}`;
}

/** libcni's message for a plugin of a conflist that failed: `msg; details` of its CNI error. */
export function pluginAddFailed(e: Pick<CniCallError, 'plugin' | 'msg' | 'details'>): string {
  return `plugin type="${e.plugin}" failed (add): ${e.msg}${e.details ? `; ${e.details}` : ''}`;
}

/** A delegate (eth0's or an attachment's conflist, by its config name) whose ADD failed. */
export function delegateAddFailed(pod: PodTag, netName: string, cause: string): string {
  return `[${tag(pod)}:${netName}]: error adding container to network "${netName}": ${cause}`;
}

const LOAD =
  'error loading k8s delegates k8s args: TryLoadPodDelegates: error in getting k8s network for pod: ' +
  'GetNetworkDelegates: failed getting the delegate: ';

/** A NAD named by the annotation that the API server does not have. */
export function nadNotFound(pod: PodTag, nad: { namespace: string; name: string }): string {
  return (
    `Multus: [${tag(pod)}]: ${LOAD}getKubernetesDelegate: cannot find a network-attachment-definition ` +
    `(${nad.name}) in namespace (${nad.namespace}): network-attachment-definitions.k8s.cni.cncf.io "${nad.name}" not found`
  );
}

/** A NAD whose spec.config is not strict JSON (Go's encoding/json: no trailing comma, no comment). */
export function nadConfigNotJson(pod: PodTag, why: string): string {
  return `Multus: [${tag(pod)}]: ${LOAD}GetCNIConfig: err in getCNIConfigFromSpec: failed to unmarshal Spec.Config: ${why}`;
}

/**
 * The Normal event Multus records on the pod for each delegate it added (reason AddedInterface,
 * source component multus): `Add <ifname> [<addresses as CIDRs, space separated>] from <delegate>`.
 */
export function addedInterfaceMessage(
  ifName: string,
  result: Record<string, unknown>,
  delegate: string,
): string {
  const ips = ((result.ips ?? []) as { address?: string }[]).map((i) => String(i.address));
  return `Add ${ifName} [${ips.join(' ')}] from ${delegate}`;
}
