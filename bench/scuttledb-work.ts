// The scuttledb workloads of `npm run bench` (registered by bench/scuttledb.ts). Each
// is an exported function of JSON arguments, so that it can run in a fresh child
// process (forkBench/runInChild), as an application would run the library.
import { readdir, stat } from 'node:fs/promises'
import path from 'node:path'
import { Level } from 'level'
import type { Model } from '../lib/index.js'
import type { BenchResult } from './registry.js'
import {
  connectModel, DEFAULT_WINDOW, openModel, prepareModel, sampleRss, serveModel, setRange, waitSync
} from './scuttledb-kit.js'
import { collectGarbage, forkBench, makeTempDir, removeTempDir, startTimer, withTempDir, type ChildContext } from './util.js'

export interface ScuttledbWritesOptions {
  n: number
  /** The Model's `sync` option: fsync every commit. */
  sync?: boolean
  /** Sets in flight, awaited in rounds. */
  window?: number
}

/**
 * Durable local writes: `model.set(key, value)` of n fixture keys on classic-level,
 * `window` sets in flight and awaited in rounds. Every set resolves only once its
 * commit (log entry, key record, clock) is written.
 */
export async function scuttledbWrites ({ n, sync = false, window = DEFAULT_WINDOW }: ScuttledbWritesOptions): Promise<BenchResult> {
  return await withTempDir(async (dir) => {
    const model = await openModel(path.join(dir, 'db'), { sync })
    let seconds: number
    try {
      collectGarbage()
      const elapsed = startTimer()
      await setRange(model, 0, n, window)
      seconds = elapsed()
    } finally {
      await model.close()
    }
    if (model.stats.committed !== n) throw new Error(`committed ${model.stats.committed} of ${n}`)
    return {
      name: 'scuttledb set()', ops: n, seconds, opsPerSec: n / seconds, unit: 'entries', window, sync, commits: model.stats.commits
    }
  })
}

/**
 * Initial sync of a fresh peer, both sides in this process on classic-level over
 * loopback TCP (`pipeline(s, socket, s)`): the source is filled untimed; the time
 * runs from connect until the fresh side's stream emits `sync`, which it does only
 * once every received update is committed.
 */
export async function scuttledbSync ({ n }: { n: number }): Promise<BenchResult> {
  return await withTempDir(async (dir) => {
    const a = await prepareModel(path.join(dir, 'a'), n)
    const b = await openModel(path.join(dir, 'b'))
    const served = await serveModel(a)
    let seconds: number
    try {
      collectGarbage()
      const elapsed = startTimer()
      const conn = connectModel(b, served.port)
      await waitSync(conn)
      seconds = elapsed()
      conn.socket.destroy()
    } finally {
      await served.close()
      await Promise.all([a.close(), b.close()])
    }
    if (b.stats.committed !== n) throw new Error(`synced ${b.stats.committed} of ${n} keys`)
    return { name: 'scuttledb sync (tcp)', ops: n, seconds, opsPerSec: n / seconds, unit: 'updates', commits: b.stats.commits }
  })
}

/** Resolves once `model` has committed `target` more updates. */
export function countUpdates (model: Model, target: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0
    const onUpdate = (): void => {
      if (++seen >= target) {
        model.off('update', onUpdate)
        resolve()
      }
    }
    model.on('update', onUpdate)
  })
}

/**
 * Live replication between two connected scuttledb nodes on classic-level over
 * loopback TCP: after the initial sync, `a` sets n keys (`window` in flight, in
 * rounds) and the time runs until `b` has committed all n. Both sides persist
 * every update; nothing is echoed back (a.stats.old counts what would be).
 */
export async function scuttledbLive ({ n, window = DEFAULT_WINDOW }: { n: number, window?: number }): Promise<BenchResult> {
  return await withTempDir(async (dir) => {
    const a = await openModel(path.join(dir, 'a'))
    const b = await openModel(path.join(dir, 'b'))
    const served = await serveModel(a)
    let seconds: number
    let writerSeconds: number
    try {
      const conn = connectModel(b, served.port)
      await waitSync(conn)
      const arrived = countUpdates(b, n)
      collectGarbage()
      const elapsed = startTimer()
      await setRange(a, 0, n, window)
      writerSeconds = elapsed()
      await arrived
      seconds = elapsed()
      conn.socket.destroy()
    } finally {
      await served.close()
      await Promise.all([a.close(), b.close()])
    }
    return {
      name: 'scuttledb live (tcp)',
      ops: n,
      seconds,
      opsPerSec: n / seconds,
      unit: 'updates',
      window,
      writerPerSec: n / writerSeconds,
      receiverCommits: b.stats.commits,
      echoes: a.stats.old
    }
  })
}

function median (values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/** Total size of the files directly in `dir` (a LevelDB directory has no subdirectories). */
async function dirBytes (dir: string): Promise<number> {
  let total = 0
  for (const file of await readdir(dir)) total += (await stat(path.join(dir, file))).size
  return total
}

/**
 * Reopen time: a Model on disk holding n updates (written untimed, then closed);
 * `opens` times `new Model({ db: dir })` + `open()`, each closed untimed. The rate
 * is 1 / median open time; the first open (which replays LevelDB's write-ahead log
 * of the preparation, at most its 4 MB write buffer) is reported apart as well.
 */
/** LevelDB compacts level 0 once it holds this many files. */
const LEVEL0_COMPACTION_TRIGGER = 4

/**
 * Keep the database at `db` open until LevelDB's background compaction of what was
 * just written has finished (as it would in any node that stays up for a few
 * seconds): until its level-0 files are below the compaction trigger and its
 * compaction stats have not changed for a second, polling every 100 ms for at most `limitMs`. A database closed right
 * after a bulk write keeps its compaction debt: each open restarts the compaction
 * and each close abandons it, so every later open reads through all its level-0
 * files while a compaction competes. Returns the seconds it took and whether it settled.
 */
async function settleLevelDb (db: string, limitMs = 60_000): Promise<{ settleSeconds: number, settled: boolean }> {
  // On Node `level` is classic-level, whose getProperty the `level` typings leave out.
  const level = new Level(db) as Level & { getProperty: (property: string) => string }
  await level.open()
  const elapsed = startTimer()
  let settled = false
  try {
    let last = ''
    let unchanged = 0
    while (elapsed() * 1000 < limitMs) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      const stats = level.getProperty('leveldb.stats')
      const level0 = Number(level.getProperty('leveldb.num-files-at-level0'))
      unchanged = stats === last ? unchanged + 1 : 0
      last = stats
      // A compaction under way changes the stats within a second: none for one, and none due.
      if (level0 < LEVEL0_COMPACTION_TRIGGER && unchanged >= 10) {
        settled = true
        break
      }
    }
  } finally {
    await level.close()
  }
  return { settleSeconds: elapsed(), settled }
}

/**
 * Median time of `opens` opens of a Model holding n updates. With `settle`, LevelDB's
 * compaction of the prepared writes finishes first (settleLevelDb), and the median of
 * as many opens before it is reported as `unsettledSeconds`.
 */
export async function scuttledbReopen ({ n, opens = 31, name, settle = false }: { n: number, opens?: number, name: string, settle?: boolean }): Promise<BenchResult> {
  return await withTempDir(async (dir) => {
    const db = path.join(dir, 'db')
    const elapsedPrep = startTimer()
    const prepared = await prepareModel(db, n)
    const id = prepared.id
    await prepared.close()
    const prepareSeconds = elapsedPrep()
    const storedBytes = await dirBytes(db)
    const reopen = async (): Promise<number[]> => {
      const times: number[] = []
      for (let i = 0; i < opens; i++) {
        collectGarbage()
        const elapsed = startTimer()
        const model = await openModel(db)
        times.push(elapsed())
        if (model.id !== id) throw new Error('reopened a different database')
        await model.close()
      }
      return times
    }
    let unsettled: { unsettledSeconds: number, settleSeconds: number, settled: boolean } | undefined
    if (settle) {
      const before = median(await reopen())
      unsettled = { unsettledSeconds: before, ...await settleLevelDb(db) }
      if (!unsettled.settled) throw new Error(`LevelDB at ${db} did not settle in ${unsettled.settleSeconds.toFixed(1)} s`)
    }
    const times = await reopen()
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
      ...unsettled
    }
  })
}

export interface ServeSideResult {
  keys: number
  prepareSeconds: number
  /** RSS when the keys were written and garbage collected, before any peer connected. */
  preparedRss: number
  /** Peak RSS sampled from the first connection until the parent said stop. */
  syncPeakRss: number
}

/**
 * Child side A: writes n keys into a fresh Model on disk (the preparation), then
 * serves it over TCP, reports its port, and waits for the parent's 'stop'.
 */
export async function scuttledbServeSide ({ n }: { n: number }, ctx: ChildContext): Promise<ServeSideResult> {
  const dir = await makeTempDir('scuttledb-bench-serve-')
  try {
    const elapsed = startTimer()
    const model = await prepareModel(path.join(dir, 'db'), n)
    const prepareSeconds = elapsed()
    const served = await serveModel(model)
    collectGarbage()
    const preparedRss = process.memoryUsage.rss()
    let sampler: { stop: () => number } | undefined
    void served.connected.then(() => { sampler = sampleRss() })
    ctx.report({ port: served.port })
    await ctx.nextMessage()
    const syncPeakRss = sampler?.stop() ?? 0
    await served.close()
    const keys = model.stats.committed
    await model.close()
    return { keys, prepareSeconds, preparedRss, syncPeakRss }
  } finally {
    await removeTempDir(dir)
  }
}

/** Child side B: syncs a fresh Model on disk from `port` and times it. */
export async function scuttledbSyncSide ({ n, port, name }: { n: number, port: number, name: string }): Promise<BenchResult> {
  const dir = await makeTempDir('scuttledb-bench-client-')
  try {
    const model = await openModel(path.join(dir, 'db'))
    collectGarbage()
    const sampler = sampleRss()
    const elapsed = startTimer()
    const conn = connectModel(model, port)
    await waitSync(conn)
    const seconds = elapsed()
    const syncPeakRss = sampler.stop()
    const committed = model.stats.committed
    const commits = model.stats.commits
    conn.socket.destroy()
    await model.close()
    if (committed !== n) throw new Error(`synced ${committed} of ${n} keys`)
    return { name, ops: n, seconds, opsPerSec: n / seconds, unit: 'updates', commits, clientSyncPeakRss: syncPeakRss }
  } finally {
    await removeTempDir(dir)
  }
}

/**
 * Initial sync with each side in its own process (like originalSyncProcesses):
 * the serving side first writes n keys to disk (untimed), then a fresh peer in
 * another process syncs them over loopback TCP. Peak RSS of both sides: the
 * kernel's high-water mark over the whole child (the server's includes writing
 * the keys) and the sampled peak during the sync alone.
 */
export async function scuttledbSyncProcesses ({ n, name }: { n: number, name: string }): Promise<BenchResult> {
  const server = forkBench<{ n: number }, ServeSideResult>('./scuttledb-work.js', 'scuttledbServeSide', { n })
  try {
    const { port } = await server.nextReport() as { port: number }
    const client = await forkBench<{ n: number, port: number, name: string }, BenchResult>(
      './scuttledb-work.js', 'scuttledbSyncSide', { n, port, name }).done
    server.send('stop')
    const serving = await server.done
    if (serving.value.keys !== n) throw new Error(`server held ${serving.value.keys} of ${n} keys`)
    return {
      ...client.value,
      serverPeakRss: serving.maxRss,
      serverSyncPeakRss: serving.value.syncPeakRss,
      serverPreparedRss: serving.value.preparedRss,
      clientPeakRss: client.maxRss,
      prepareSeconds: serving.value.prepareSeconds
    }
  } finally {
    server.kill()
  }
}
