import { test } from 'node:test';
import assert from 'node:assert/strict';
import { livenessChecks, readinessChecks, summary, verbose, type HealthState } from './health.js';

const NOW = 1_700_000_000_000;

function healthyState(over: Partial<HealthState> = {}): HealthState {
  return {
    firstSyncDone: true,
    cniRefusal: undefined,
    watch: { connected: true, failures: 0, staleMs: 1200 },
    lastSyncAt: NOW - 5_000,
    syncRunningSince: undefined,
    syncs: 7,
    resyncMs: 30_000,
    attachments: 3,
    socketPath: '/run/multinet/cni.sock',
    ...over,
  };
}

const ready = (s: HealthState, socket = true): string => summary(readinessChecks(s, socket), 'not ready');
const live = (s: HealthState, now = NOW): string => summary(livenessChecks(s, now), 'not live');

test('ready when in sync, the watch connected, the gate open and the socket answering', () => {
  assert.equal(ready(healthyState()), 'ok');
  assert.equal(
    verbose(readinessChecks(healthyState(), true), 'not ready'),
    '[+]first-sync ok\n[+]store-watch ok\n[+]cni-gate ok\n[+]cni-socket ok\nok',
  );
});

test('not ready: the first failing check, in one line', () => {
  const starting = healthyState({
    firstSyncDone: false,
    cniRefusal: 'waiting for the store (etcd://10.0.0.1:2379): connect ECONNREFUSED',
    watch: { connected: false, failures: 0 },
    lastSyncAt: undefined,
  });
  assert.equal(
    ready(starting),
    'not ready: first sync not done (waiting for the store (etcd://10.0.0.1:2379): connect ECONNREFUSED)',
  );
  const lost = healthyState({
    cniRefusal: 'store watch lost, re-listing (etcd://x): timeout',
    watch: { connected: false, failures: 3, lastError: 'timeout', staleMs: 40_000 },
  });
  assert.equal(ready(lost), 'not ready: store watch lost (3 failures): timeout');
  assert.equal(
    verbose(readinessChecks(lost, true), 'not ready'),
    [
      '[+]first-sync ok',
      '[-]store-watch failed: store watch lost (3 failures): timeout',
      '[-]cni-gate failed: CNI calls refused: store watch lost, re-listing (etcd://x): timeout',
      '[+]cni-socket ok',
      'not ready: store watch lost (3 failures): timeout',
    ].join('\n'),
  );
  assert.equal(
    ready(healthyState({ watch: { connected: false, failures: 1, lastError: 'gone' } })),
    'not ready: store watch lost (1 failure): gone',
  );
  assert.equal(ready(healthyState(), false), 'not ready: CNI socket /run/multinet/cni.sock does not answer');
  assert.equal(
    ready(healthyState({ cniRefusal: 're-listing' })),
    'not ready: CNI calls refused: re-listing',
    'the watch is back but the re-list is not applied yet',
  );
  assert.equal(ready(healthyState({ socketPath: undefined }), false), 'ok', 'no socket, no socket check');
});

test('live while syncing normally, while starting, and through any store outage', () => {
  assert.equal(live(healthyState()), 'ok');
  assert.equal(live(healthyState({ firstSyncDone: false, lastSyncAt: undefined })), 'ok');
  // An hour-long outage with the sync loop wedged as well: still live (the outage may be why).
  const outage = healthyState({
    watch: { connected: false, failures: 40, lastError: 'down' },
    lastSyncAt: NOW - 3_600_000,
    syncRunningSince: NOW - 3_600_000,
  });
  assert.equal(live(outage), 'ok');
  // A long pass that is still within the limit (10 x resync, at least 5 min).
  assert.equal(live(healthyState({ syncRunningSince: NOW - 290_000, lastSyncAt: NOW - 320_000 })), 'ok');
  assert.equal(
    live(healthyState({ resyncMs: 0, lastSyncAt: NOW - 3_600_000 })),
    'ok',
    'no resync: idle is fine',
  );
});

test('not live: a pass stuck, or no pass for far longer than the resync interval, with the store up', () => {
  assert.equal(
    live(healthyState({ syncRunningSince: NOW - 301_000 })),
    'not live: a sync pass has been running for 301 s',
  );
  assert.equal(
    live(healthyState({ firstSyncDone: false, lastSyncAt: undefined, syncRunningSince: NOW - 400_000 })),
    'not live: a sync pass has been running for 400 s',
    'the first sync hanging',
  );
  assert.equal(
    live(healthyState({ lastSyncAt: NOW - 301_000 })),
    'not live: no sync pass finished for 301 s (full resync every 30 s)',
  );
  assert.equal(
    live(healthyState({ resyncMs: 60_000, lastSyncAt: NOW - 500_000 })),
    'ok',
    '10 x 60 s = 600 s',
  );
  assert.match(
    live(healthyState({ resyncMs: 60_000, lastSyncAt: NOW - 601_000 })),
    /^not live: no sync pass/,
  );
});
