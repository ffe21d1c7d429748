import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePortStats } from './testpmd.js';

// `show port stats 0` of DPDK 22.11's testpmd (rxonly on a memif port), as the prompt echoes it.
const STATS = `show port stats 0

  ######################## NIC statistics for port 0  ########################
  RX-packets: 31557248   RX-missed: 0          RX-bytes:  2019663872
  RX-errors: 0
  RX-nombuf:  12
  TX-packets: 0          TX-errors: 0          TX-bytes:  0

  Throughput (since last show)
  Rx-pps:     10518412          Rx-bps:   5385427200
  Tx-pps:            0          Tx-bps:            0
  ############################################################################
testpmd> `;

test("testpmd's port stats: the packet and error counters, not the throughput lines", () => {
  assert.deepEqual(parsePortStats(STATS), {
    rxPackets: 31557248,
    rxMissed: 0,
    rxErrors: 0,
    rxNombuf: 12,
    txPackets: 0,
    txErrors: 0,
  });
});

test('port stats without a counter (an error message, another command) are refused', () => {
  assert.throws(() => parsePortStats('Invalid port 3\ntestpmd> '), /no RX-packets/);
});
