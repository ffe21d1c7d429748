// Name rules of Kubernetes (apimachinery validation) and of Linux interface names.

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Why `s` is not a DNS-1123 label (namespaces, port names), or undefined when it is one. */
export function checkDns1123Label(s: string): string | undefined {
  if (s.length === 0) return 'must not be empty';
  if (s.length > 63) return `"${s}" is longer than 63 characters`;
  if (!DNS1123_LABEL.test(s))
    return `"${s}" must be lowercase letters, digits and '-', starting and ending with a letter or digit`;
  return undefined;
}

/** Why `s` is not a DNS-1123 subdomain (most object names), or undefined. */
export function checkDns1123Subdomain(s: string): string | undefined {
  if (s.length === 0) return 'must not be empty';
  if (s.length > 253) return `"${s.slice(0, 20)}..." is longer than 253 characters`;
  if (!DNS1123_SUBDOMAIN.test(s))
    return `"${s}" must be lowercase letters, digits, '-' and '.', starting and ending with a letter or digit`;
  return undefined;
}

/** Label keys: `[prefix/]name`, prefix a DNS subdomain, name a 63-char qualified name. */
export function checkLabelKey(s: string): string | undefined {
  const slash = s.lastIndexOf('/');
  const name = slash >= 0 ? s.slice(slash + 1) : s;
  if (slash >= 0) {
    const prefixErr = checkDns1123Subdomain(s.slice(0, slash));
    if (prefixErr) return `label key "${s}": prefix ${prefixErr}`;
  }
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME.test(name)) {
    return `label key "${s}" is not valid (name part: 1..63 of letters, digits, '-', '_', '.', starting and ending alphanumeric)`;
  }
  return undefined;
}

export function checkLabelValue(s: string): string | undefined {
  if (s.length > 63 || !LABEL_VALUE.test(s)) {
    return `label value "${s}" is not valid (0..63 of letters, digits, '-', '_', '.', starting and ending alphanumeric)`;
  }
  return undefined;
}

/** IANA service names, used for named ports: 1..15 chars, lowercase alnum and '-', one letter at least. */
export function checkPortName(s: string): string | undefined {
  if (s.length === 0 || s.length > 15) return `port name "${s}" must be 1..15 characters`;
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(s) || s.includes('--')) {
    return `port name "${s}" must be lowercase letters, digits and single '-' inside`;
  }
  if (!/[a-z]/.test(s)) return `port name "${s}" must contain a letter`;
  return undefined;
}

/**
 * Linux interface names (dev_valid_name): 1..15 bytes, no '/', no whitespace, not '.' or '..'.
 * We also refuse ':' (alias syntax, confuses `ip`) and control characters.
 */
export function checkInterfaceName(s: string): string | undefined {
  if (s.length === 0) return 'interface name must not be empty';
  if (Buffer.byteLength(s, 'utf8') > 15) return `interface name "${s}" is longer than 15 characters`;
  if (s === '.' || s === '..') return `interface name "${s}" is not allowed`;
  if (/[/:\s]/.test(s)) return `interface name "${s}" must not contain '/', ':' or whitespace`;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(s))
    return `interface name ${JSON.stringify(s)} must not contain control characters`;
  return undefined;
}
