// Maps a NAD's Whereabouts-style `ipam` section to an IpPool (plain data in, plain data out).
//   range (+ range_start, range_end, exclude) -> ranges[0]
//   ipRanges: [{range, range_start, range_end, exclude}] -> further ranges
//   "network": "blue" with no range -> the Network's own range (networkRange), as in the seed.
import { IpamError, type IpPool, type IpRange } from './pool.js';

export function poolFromWhereabouts(
  network: string,
  ipam: Record<string, unknown>,
  networkRange?: string | readonly string[],
): IpPool {
  const where = `network ${JSON.stringify(network)}: ipam`;
  const one = (o: Record<string, unknown>, f: string): IpRange => {
    for (const k of ['range_start', 'range_end'] as const) {
      if (o[k] !== undefined && typeof o[k] !== 'string')
        throw new IpamError('InvalidPool', `${where}.${f}${k}: must be an address string`);
    }
    if (
      o.exclude !== undefined &&
      (!Array.isArray(o.exclude) || o.exclude.some((e) => typeof e !== 'string'))
    ) {
      throw new IpamError('InvalidPool', `${where}.${f}exclude: must be a list of CIDR strings`);
    }
    return {
      range: o.range as string,
      ...(o.range_start !== undefined ? { rangeStart: o.range_start as string } : {}),
      ...(o.range_end !== undefined ? { rangeEnd: o.range_end as string } : {}),
      ...(o.exclude !== undefined ? { exclude: o.exclude as string[] } : {}),
    };
  };
  const ranges: IpRange[] = [];
  if (ipam.range !== undefined) ranges.push(one(ipam, ''));
  if (ipam.ipRanges !== undefined) {
    if (!Array.isArray(ipam.ipRanges))
      throw new IpamError('InvalidPool', `${where}.ipRanges: must be a list`);
    ipam.ipRanges.forEach((r: unknown, i) => {
      if (typeof r !== 'object' || r === null)
        throw new IpamError('InvalidPool', `${where}.ipRanges[${i}]: must be an object`);
      ranges.push(one(r as Record<string, unknown>, `ipRanges[${i}].`));
    });
  }
  if (ranges.length === 0) {
    const nr = typeof networkRange === 'string' ? [networkRange] : (networkRange ?? []);
    if (nr.length === 0) {
      throw new IpamError(
        'InvalidPool',
        `${where}: no range, no ipRanges, and the Network has no range to take`,
      );
    }
    for (const r of nr) ranges.push({ range: r });
  }
  return { network, ranges };
}
