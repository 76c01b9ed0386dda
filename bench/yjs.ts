// Yjs 13 + y-leveldb on the same data as scuttledb's rows: a Y.Map (`doc.getMap('m')`)
// with modelKey(i) set to modelValue(i). Exported functions of JSON arguments, run in
// a fresh child process by bench/peers.ts.
//
// What y-leveldb persists: each update (the binary delta of one transaction) as one
// LevelDB record under [docName, clock], after reading the current clock (a reverse
// iterator); the first update also writes a state vector. All writes are without
// fsync (classic-level's default), as scuttledb's commits are without `sync: true`.
// y-leveldb runs one operation at a time per persistence (its _transact chain), and
// getYDoc() merges and rewrites the log once it holds more than 500 updates.
import path from 'node:path'
import { modelKey, modelValue } from './fixtures.js'
import { loadPeers, median, treeBytes, type LeveldbPersistence, type YDoc } from './peers-load.js'
import type { BenchResult } from './registry.js'
import { collectGarbage, startTimer, withTempDir } from './util.js'

const DOC = 'bench'
/** Updates stored in flight, awaited in rounds: the 1000 sets in flight of scuttledb's rows. */
const WINDOW = 1000

/**
 * Sets keys [0, n) of a fresh Y.Doc's map, one transaction (so one update) per key,
 * each update handed to persistence.storeUpdate() as the y-leveldb provider does,
 * `window` in flight and awaited in rounds. Throws unless every update was stored.
 */
async function setAndStore (persistence: LeveldbPersistence, n: number, window = WINDOW): Promise<YDoc> {
  const { Y } = loadPeers()
  const doc = new Y.Doc()
  const map = doc.getMap('m')
  let pending: Array<Promise<number | null>> = []
  doc.on('update', (update) => { pending.push(persistence.storeUpdate(DOC, update)) })
  let last: number | null = -1
  for (let i = 0; i < n; i += window) {
    const end = Math.min(n, i + window)
    for (let j = i; j < end; j++) map.set(modelKey(j), modelValue(j))
    const clocks = await Promise.all(pending)
    pending = []
    // y-leveldb logs and swallows a failed write, resolving with null.
    if (clocks.includes(null)) throw new Error('y-leveldb failed to store an update')
    last = clocks[clocks.length - 1] ?? last
  }
  if (last !== n - 1) throw new Error(`stored ${String(last)} + 1 of ${n} updates`)
  return doc
}

function checkDoc (doc: YDoc, n: number, what: string): void {
  const map = doc.getMap('m')
  if (map.size !== n || map.get(modelKey(n - 1)) !== modelValue(n - 1)) throw new Error(`${what}: ${map.size} of ${n} keys`)
}

/** Persisted updates: n keys set, one update each, stored through storeUpdate(); open and close untimed. */
export async function yjsStoreUpdates ({ n, name }: { n: number, name: string }): Promise<BenchResult> {
  return await withTempDir(async (dir) => {
    const { LeveldbPersistence } = loadPeers()
    const location = path.join(dir, 'db')
    const persistence = new LeveldbPersistence(location)
    let seconds: number
    try {
      collectGarbage()
      const elapsed = startTimer()
      const doc = await setAndStore(persistence, n)
      seconds = elapsed()
      doc.destroy()
    } finally {
      await persistence.destroy()
    }
    return { name, ops: n, seconds, opsPerSec: n / seconds, unit: 'updates', window: WINDOW, storedBytes: await treeBytes(location) }
  })
}

/**
 * Sync of a fresh Y.Doc with state vectors, in this process: the source doc holds n
 * keys in memory (set untimed, as a Yjs server holds its doc); the time runs from
 * the fresh side's state vector through the source's diff (one merged update of all
 * n keys), applying it, and storing it with y-leveldb on disk, until that resolves.
 */
export async function yjsStateVectorSync ({ n, name }: { n: number, name: string }): Promise<BenchResult> {
  return await withTempDir(async (dir) => {
    const { Y, LeveldbPersistence } = loadPeers()
    const source = new Y.Doc()
    const map = source.getMap('m')
    for (let i = 0; i < n; i++) map.set(modelKey(i), modelValue(i))
    const persistence = new LeveldbPersistence(path.join(dir, 'db'))
    let seconds: number
    let updateBytes: number
    try {
      await persistence.getYDoc(DOC) // opens the database, untimed
      const fresh = new Y.Doc()
      collectGarbage()
      const elapsed = startTimer()
      const diff = Y.encodeStateAsUpdate(source, Y.encodeStateVector(fresh))
      Y.applyUpdate(fresh, diff)
      const clock = await persistence.storeUpdate(DOC, diff)
      seconds = elapsed()
      if (clock === null) throw new Error('y-leveldb failed to store the update')
      updateBytes = diff.length
      checkDoc(fresh, n, 'state-vector sync')
    } finally {
      await persistence.destroy()
    }
    return { name, ops: n, seconds, opsPerSec: n / seconds, unit: 'updates', updateBytes }
  })
}

/**
 * Reopen: a database holding n stored updates (one per key, written untimed, then
 * closed); `opens` times `new LeveldbPersistence(dir)` + `getYDoc()`, each closed
 * untimed. getYDoc() loads the whole document, and the first one merges the n
 * updates into one (firstOpenSeconds); the rate is 1 / median open time.
 */
export async function yjsReopen ({ n, opens = 31, name }: { n: number, opens?: number, name: string }): Promise<BenchResult> {
  return await withTempDir(async (dir) => {
    const { LeveldbPersistence } = loadPeers()
    const location = path.join(dir, 'db')
    const elapsedPrep = startTimer()
    const prepared = new LeveldbPersistence(location)
    const doc = await setAndStore(prepared, n)
    doc.destroy()
    await prepared.destroy()
    const prepareSeconds = elapsedPrep()
    const storedBytes = await treeBytes(location)
    const times: number[] = []
    for (let i = 0; i < opens; i++) {
      collectGarbage()
      const elapsed = startTimer()
      const persistence = new LeveldbPersistence(location)
      const loaded = await persistence.getYDoc(DOC)
      times.push(elapsed())
      await persistence.destroy()
      checkDoc(loaded, n, 'reopen')
      loaded.destroy()
    }
    const seconds = median(times)
    return {
      name,
      ops: 1,
      seconds,
      opsPerSec: 1 / seconds,
      unit: 'opens',
      updates: n,
      opens,
      firstOpenSeconds: times[0],
      minSeconds: Math.min(...times),
      maxSeconds: Math.max(...times),
      prepareSeconds,
      storedBytes,
      compactedStoredBytes: await treeBytes(location)
    }
  })
}
