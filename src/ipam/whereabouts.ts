// Maps a NAD's Whereabouts-style `ipam` section to an IpPool (plain data in, plain data out).
//   range (+ range_start, range_end, exclude) -> ranges[0]
//   ipRanges: [{range, range_start, range_end, exclude}] -> further ranges
//   "network": "blue" with no range -> the Network's own range (networkRange), as in the seed.
// The ranges are read by the api's reader, the one `multinet validate` and the CNI ADD use, so
// the three cannot disagree on what a range means.
import { Fields } from '../api/fields.js';
import { readIpamRanges } from '../api/ipam-range.js';
import { IssueSink } from '../api/issues.js';
import type { IpamConfig } from '../api/types.js';
import { IpamError, type IpPool, type IpRange } from './pool.js';

export function poolFromWhereabouts(
  network: string,
  ipam: Record<string, unknown>,
  networkRange?: string | readonly string[],
): IpPool {
  const where = `network ${JSON.stringify(network)}: ipam`;
  const sink = new IssueSink('<ipam>', () => 0, where);
  const read = readIpamRanges(new Fields(sink), [], ipam);
  const err = sink.issues.find((i) => i.severity === 'error');
  if (err) throw new IpamError('InvalidPool', `${where}${err.path ? `.${err.path}` : ''}: ${err.reason}`);
  return {
    network,
    ranges: poolRanges({ ranges: read, rangeFromNetwork: read.length === 0 }, networkRange, where),
  };
}

/**
 * The pool ranges of a validated ipam section (what the CNI ADD allocates from): its own ranges,
 * or the Network's when it names none.
 */
export function poolRanges(
  conf: Pick<IpamConfig, 'ranges' | 'rangeFromNetwork'>,
  networkRange?: string | readonly string[],
  where = 'ipam',
): IpRange[] {
  const ranges: IpRange[] = conf.rangeFromNetwork
    ? []
    : conf.ranges.map((r) => ({
        range: r.range.text,
        ...(r.rangeStart !== undefined ? { rangeStart: r.rangeStart } : {}),
        ...(r.rangeEnd !== undefined ? { rangeEnd: r.rangeEnd } : {}),
        ...(r.exclude.length ? { exclude: r.exclude.map((e) => e.text) } : {}),
      }));
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
  return ranges;
}
