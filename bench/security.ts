// Signed vs unsigned throughput for `npm run bench` (loaded by run.ts when its
// compiled file exists): durable local writes, and the initial sync of a fresh
// peer that verifies every update. Each entry runs in a fresh child process, as
// bench/scuttledb.ts does, so that what ran before in this process does not
// change V8's code for the commit path. Workloads: bench/security-work.ts.
import { defineGroup, register, type BenchResult } from './registry.js'
import { runInChild } from './util.js'
import type { SecurityBenchOptions } from './security-work.js'

const WORK = './security-work.js'

async function inChild (exportName: 'securityWrites' | 'securitySync', args: SecurityBenchOptions): Promise<BenchResult> {
  const out = await runInChild<SecurityBenchOptions, BenchResult>(WORK, exportName, args)
  return { ...out.value, processPeakRss: out.maxRss }
}

defineGroup('security-writes', {
  title: 'signed vs unsigned durable local writes (set(), 1000 in flight)',
  baseline: 'unsigned set()',
  goal: 'the cost of signing each update synchronously on the main thread'
})
register('security-writes', 'unsigned set()', async ({ sizes }) =>
  await inChild('securityWrites', { n: sizes.writes, signed: false, name: 'unsigned set()' }))
register('security-writes', 'signed set() (ed25519)', async ({ sizes }) =>
  await inChild('securityWrites', { n: sizes.writes, signed: true, name: 'signed set() (ed25519)' }))

defineGroup('security-sync', {
  title: 'signed vs unsigned initial sync of a fresh peer (tcp, one process)',
  baseline: 'unsigned sync (tcp)',
  goal: 'signed (ed25519, default verifyOn) >= 0.35x unsigned, both cores busy'
})
register('security-sync', 'unsigned sync (tcp)', async ({ sizes }) =>
  await inChild('securitySync', { n: sizes.sync, signed: false, name: 'unsigned sync (tcp)' }))
// The default, verifyOn: 'workers': every batch shared among worker threads (one per core, at most 4).
register('security-sync', 'signed sync (tcp, ed25519, workers)', async ({ sizes }) =>
  await inChild('securitySync', { n: sizes.sync, signed: true, name: 'signed sync (tcp, ed25519, workers)' }))
register('security-sync', 'signed sync (tcp, ed25519, threadpool)', async ({ sizes }) =>
  await inChild('securitySync', { n: sizes.sync, signed: true, verifyOn: 'threadpool', name: 'signed sync (tcp, ed25519, threadpool)' }))
register('security-sync', 'signed sync (tcp, ed25519, main thread)', async ({ sizes }) =>
  await inChild('securitySync', { n: sizes.sync, signed: true, verifyOn: 'main', name: 'signed sync (tcp, ed25519, main thread)' }))
// RSA signs ~10x slower than Ed25519 (it only slows the untimed fill) but verifies ~4x faster.
register('security-sync', 'signed sync (tcp, rsa-2048, 1/5 keys)', async ({ sizes }) =>
  await inChild('securitySync', { n: Math.max(1, Math.round(sizes.sync / 5)), signed: true, keyType: 'rsa', name: 'signed sync (tcp, rsa-2048, 1/5 keys)' }))
