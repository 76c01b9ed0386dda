// PouchDB 9 (pouchdb-node: the LevelDB adapter on leveldown) on the same data as
// scuttledb's rows: doc `{ _id: modelKey(i), v: modelValue(i) }` for the i-th key.
// Each workload is an exported function of JSON arguments, run in a fresh child
// process by bench/peers.ts, as the scuttledb workloads are.
//
// What PouchDB persists per doc: the doc's metadata (its revision tree, winning
// revision and sequence) in the document store and the body with `_rev` in the
// by-sequence store, plus the database's update_seq and doc_count per write; all in
// one LevelDB batch per bulkDocs() call, without fsync (leveldown's default), as
// scuttledb's commits are without `sync: true`.
import path from 'node:path'
import { modelKey, modelValue } from './fixtures.js'
import { loadPeers, median, treeBytes, type PouchDatabase } from './peers-load.js'
import type { BenchResult } from './registry.js'
import { collectGarbage, startTimer, withTempDir } from './util.js'

/** Docs per bulkDocs() call: the 1000 sets in flight of scuttledb's rows. */
export const BULK_SIZE = 1000

function docs (from: number, to: number): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = []
  for (let i = from; i < to; i++) out.push({ _id: modelKey(i), v: modelValue(i) })
  return out
}

/** Writes docs [0, n) with one bulkDocs() of `bulkSize` at a time; throws on any per-doc error. */
async function bulkWrite (db: PouchDatabase, n: number, bulkSize = BULK_SIZE): Promise<void> {
  for (let i = 0; i < n; i += bulkSize) {
    const results = await db.bulkDocs(docs(i, Math.min(n, i + bulkSize)))
    const failed = results.find((r) => r.error !== undefined)
    if (failed !== undefined) throw new Error(`bulkDocs: ${String(failed.error)}`)
  }
}

function open (dir: string): PouchDatabase {
  const { PouchDB } = loadPeers()
  return new PouchDB(dir)
}

async function expectDocs (db: PouchDatabase, n: number, what: string): Promise<void> {
  const info = await db.info()
  if (info.doc_count !== n) throw new Error(`${what}: ${info.doc_count} of ${n} docs`)
}

/** Bulk writes of n fixture docs into a fresh on-disk database; open and close untimed. */
export async function pouchBulkDocs ({ n, bulkSize = BULK_SIZE, name }: { n: number, bulkSize?: number, name: string }): Promise<BenchResult> {
  return await withTempDir(async (dir) => {
    const db = open(path.join(dir, 'db'))
    await db.info()
    let seconds: number
    try {
      collectGarbage()
      const elapsed = startTimer()
      await bulkWrite(db, n, bulkSize)
      seconds = elapsed()
      await expectDocs(db, n, 'bulkDocs')
    } finally {
      await db.close()
    }
    return {
      name, ops: n, seconds, opsPerSec: n / seconds, unit: 'docs', bulkSize, storedBytes: await treeBytes(path.join(dir, 'db'))
    }
  })
}

/**
 * Fresh replication: a source filled untimed with n docs, a fresh target, both on
 * disk in this process; the time of `PouchDB.replicate(source, target)` (defaults:
 * batch_size 100, batches_limit 10) until it resolves, checkpoints written.
 */
export async function pouchReplicate ({ n, batchSize, name }: { n: number, batchSize?: number, name: string }): Promise<BenchResult> {
  return await withTempDir(async (dir) => {
    const { PouchDB } = loadPeers()
    const source = open(path.join(dir, 'a'))
    const target = open(path.join(dir, 'b'))
    let seconds: number
    let written: number
    try {
      await bulkWrite(source, n)
      await target.info()
      collectGarbage()
      const elapsed = startTimer()
      const out = await PouchDB.replicate(source, target, batchSize !== undefined ? { batch_size: batchSize } : {})
      seconds = elapsed()
      written = out.docs_written
      await expectDocs(target, n, 'replicate')
    } finally {
      await Promise.all([source.close(), target.close()])
    }
    return {
      name, ops: n, seconds, opsPerSec: n / seconds, unit: 'docs', batchSize: batchSize ?? 100, docsWritten: written
    }
  })
}

/**
 * Live replication: `PouchDB.sync(a, b, { live: true })` (both directions, as two
 * connected scuttledb nodes replicate) between two on-disk databases in this
 * process, idle first; then `a` writes n docs with bulkDocs() of 1000, one call in
 * flight, and the time runs until the push side reports all n written to `b`.
 */
export async function pouchLive ({ n, name }: { n: number, name: string }): Promise<BenchResult> {
  return await withTempDir(async (dir) => {
    const { PouchDB } = loadPeers()
    const a = open(path.join(dir, 'a'))
    const b = open(path.join(dir, 'b'))
    const sync = PouchDB.sync(a, b, { live: true })
    let seconds: number
    let writerSeconds: number
    try {
      let failed: (err: unknown) => void = () => {}
      const failure = new Promise<never>((_resolve, reject) => { failed = reject })
      failure.catch(() => {})
      sync.on('error', (err) => { failed(err) }).on('denied', (err) => { failed(err) })
      await Promise.race([new Promise((resolve) => { sync.once('paused', resolve) }), failure])
      let arrived: () => void = () => {}
      const all = new Promise<void>((resolve) => { arrived = resolve })
      sync.on('change', (info: { direction: string, change: { docs_written: number } }) => {
        // docs_written is the running total of the push replication (a to b).
        if (info.direction === 'push' && info.change.docs_written >= n) arrived()
      })
      collectGarbage()
      const elapsed = startTimer()
      await Promise.race([bulkWrite(a, n), failure])
      writerSeconds = elapsed()
      await Promise.race([all, failure])
      seconds = elapsed()
      await expectDocs(b, n, 'live sync')
    } finally {
      sync.cancel()
      await Promise.all([a.close(), b.close()])
    }
    return {
      name, ops: n, seconds, opsPerSec: n / seconds, unit: 'docs', bulkSize: BULK_SIZE, writerPerSec: n / writerSeconds
    }
  })
}

/**
 * Reopen: a database holding n docs (written untimed, then closed); `opens` times
 * `new PouchDB(dir)` + `info()` (which waits for the open), each closed untimed.
 * The rate is 1 / median open time, as in scuttledb's reopen rows.
 */
export async function pouchReopen ({ n, opens = 31, name }: { n: number, opens?: number, name: string }): Promise<BenchResult> {
  return await withTempDir(async (dir) => {
    const location = path.join(dir, 'db')
    const elapsedPrep = startTimer()
    const prepared = open(location)
    await bulkWrite(prepared, n)
    await prepared.close()
    const prepareSeconds = elapsedPrep()
    const storedBytes = await treeBytes(location)
    const times: number[] = []
    for (let i = 0; i < opens; i++) {
      collectGarbage()
      const elapsed = startTimer()
      const db = open(location)
      const info = await db.info()
      times.push(elapsed())
      await db.close()
      if (info.doc_count !== n) throw new Error(`reopened ${info.doc_count} of ${n} docs`)
    }
    const seconds = median(times)
    return {
      name,
      ops: 1,
      seconds,
      opsPerSec: 1 / seconds,
      unit: 'opens',
      docs: n,
      opens,
      firstOpenSeconds: times[0],
      minSeconds: Math.min(...times),
      maxSeconds: Math.max(...times),
      prepareSeconds,
      storedBytes
    }
  })
}
