// The agent's /metrics in the Prometheus text format (0.0.4). A handful of gauges, written by hand:
// not worth a dependency. A value that is not known yet (never listed, never synced) is left out.
import type { HealthState } from './health.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

interface Metric {
  readonly name: string;
  readonly type: 'gauge' | 'counter';
  readonly help: string;
  readonly value: number | undefined;
}

export function renderMetrics(s: HealthState, ready: boolean): string {
  const metrics: Metric[] = [
    {
      name: 'multinet_agent_ready',
      type: 'gauge',
      help: 'Whether the agent serves CNI calls (1) or answers "try again later" (0), as /readyz.',
      value: ready ? 1 : 0,
    },
    {
      name: 'multinet_agent_store_watch_connected',
      type: 'gauge',
      help: 'Whether the store list-watch is connected (1) or retrying (0).',
      value: s.watch.connected ? 1 : 0,
    },
    {
      name: 'multinet_agent_store_watch_failures',
      type: 'gauge',
      help: 'Consecutive failed store list/watch attempts of the ongoing outage.',
      value: s.watch.failures,
    },
    {
      name: 'multinet_agent_store_stale_seconds',
      type: 'gauge',
      help: 'Seconds since the store mirror was last known current (an event, a list or a bookmark).',
      value: s.watch.staleMs === undefined ? undefined : s.watch.staleMs / 1000,
    },
    {
      name: 'multinet_agent_last_sync_timestamp_seconds',
      type: 'gauge',
      help: 'Unix time at which the last dataplane sync pass finished.',
      value: s.lastSyncAt === undefined ? undefined : s.lastSyncAt / 1000,
    },
    {
      name: 'multinet_agent_syncs_total',
      type: 'counter',
      help: 'Dataplane sync passes since the agent started.',
      value: s.syncs,
    },
    {
      name: 'multinet_agent_attachments',
      type: 'gauge',
      help: 'Pod interfaces attached on this node (Attachment records).',
      value: s.attachments,
    },
  ];
  return metrics
    .map((m) => {
      const head = `# HELP ${m.name} ${m.help}\n# TYPE ${m.name} ${m.type}\n`;
      return m.value === undefined ? head : `${head}${m.name} ${m.value}\n`;
    })
    .join('');
}
