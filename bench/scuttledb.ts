// The scuttledb side of `npm run bench`, registered into the baselines' groups so that
// ratios print side by side, plus two groups of its own (peak RSS at --rss-keys,
// reopen time at --reopen-keys). The workloads live in bench/scuttledb-work.ts.
//
// Every scuttledb entry runs in fresh child processes (the two-process ones fork
// one per side), never in this one: the baselines run here, and what ran before
// changes V8's code for abstract-level's chained batch put(). After the raw
// chained-batch baseline, scuttledb's commits ran up to ~1.8x faster than in a
// process of their own, and not reproducibly. An application gets the
// fresh-process figure, so that is the one the goals are measured with.
import { defineGroup, register, type BenchResult } from './registry.js'
import { runInChild } from './util.js'
import { scuttledbSyncProcesses } from './scuttledb-work.js'
import { liveProcesses } from './live-processes.js'

const WORK = './scuttledb-work.js'

/** Runs a workload of scuttledb-work.ts in a fresh process; adds that process's peak RSS. */
async function inChild<A> (exportName: string, args: A): Promise<BenchResult> {
  const out = await runInChild<A, BenchResult>(WORK, exportName, args)
  return { ...out.value, processPeakRss: out.maxRss }
}

/** Keys stored in the small database of the reopen group. */
const REOPEN_SMALL = 1000

defineGroup('writes', { goal: 'scuttledb set() >= 0.5x raw chained batch (same keys and values, 1000 sets in flight)' })
register('writes', 'scuttledb set()', async ({ sizes }) => await inChild('scuttledbWrites', { n: sizes.writes }))

defineGroup('fsync-writes', { goal: 'scuttledb set() with { sync: true } >= 0.5x raw chained batch with fsync' })
register('fsync-writes', 'scuttledb set() (sync: true)', async ({ sizes }) =>
  await inChild('scuttledbWrites', { n: sizes.syncWrites, sync: true }))

defineGroup('sync', { alsoVs: ['original sync (2 processes)'] })
register('sync', 'scuttledb sync (tcp)', async ({ sizes }) => await inChild('scuttledbSync', { n: sizes.sync }))
register('sync', 'scuttledb sync (2 processes)', async ({ sizes }) =>
  await scuttledbSyncProcesses({ n: sizes.processSync, name: 'scuttledb sync (2 processes)' }))

defineGroup('live', { alsoVs: ['original live (tcp)', 'original live (2 processes)'] })
register('live', 'scuttledb live (tcp)', async ({ sizes }) => await inChild('scuttledbLive', { n: sizes.live }))
register('live', 'scuttledb live (2 processes)', async ({ sizes }) =>
  await liveProcesses({ n: sizes.live, kind: 'scuttledb', name: 'scuttledb live (2 processes)' }))

defineGroup('memory', {
  title: 'peak RSS syncing --rss-keys keys, each side in its own process',
  goal: 'serverPeakRss, serverSyncPeakRss and clientPeakRss each < 150 MB at 1,000,000 keys'
})
register('memory', 'scuttledb sync (2 processes, rss)', async ({ sizes }) =>
  await scuttledbSyncProcesses({ n: sizes.rssKeys, name: 'scuttledb sync (2 processes, rss)' }))

defineGroup('reopen', {
  title: 'reopen time (median of 31 opens)',
  baseline: `reopen (${REOPEN_SMALL} updates)`,
  goal: 'reopen with --reopen-keys (1,000,000) updates >= 0.5x the rate of 1,000 updates (open time within 2x)'
})
register('reopen', `reopen (${REOPEN_SMALL} updates)`, async () =>
  await inChild('scuttledbReopen', { n: REOPEN_SMALL, name: `reopen (${REOPEN_SMALL} updates)`, settle: true }))
register('reopen', 'reopen (--reopen-keys updates)', async ({ sizes }) =>
  await inChild('scuttledbReopen', { n: sizes.reopenKeys, name: 'reopen (--reopen-keys updates)', settle: true }))
