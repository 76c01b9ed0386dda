// Baselines: what the machine and the libraries scuttledb builds on can do with the
// same data when nothing else is in the way. scuttledb's goals are ratios of these.
import net from 'node:net'
import path from 'node:path'
import { once } from 'node:events'
import { Level } from 'level'
import { benchSourceId, createPackr, historyKey, isBenchUpdate, makeUpdate, type BenchUpdate } from './fixtures.js'
import type { BenchResult } from './registry.js'
import { collectGarbage, startTimer, withTempDir } from './util.js'

export { originalSync, originalLive, originalSyncProcesses } from './original.js'
export type { OriginalSyncOptions, OriginalLiveOptions } from './original.js'

type Db = Level<string, Uint8Array>

function openDb (dir: string): Db {
  // 'view' stores the bytes given without a copy through a transcoder.
  return new Level<string, Uint8Array>(path.join(dir, 'db'), { keyEncoding: 'utf8', valueEncoding: 'view' })
}

export interface RawChainedBatchOptions {
  n: number
  batchSize?: number
  /** fsync every batch (LevelDB `sync: true`). */
  sync?: boolean
  /**
   * Also write a key record per update (`key` -> msgpack `[ts, source]`), as a Model
   * does beside each log entry: the bound of a store that keeps an index of keys.
   */
  keyRecords?: boolean
}

/**
 * n history-log entries (key 'source!' + 16 hex digits, value a msgpack update) into
 * a fresh classic-level db with chained batches of batchSize, one in flight at a time.
 * Encoding is inside the timed loop, as it is for any store that writes updates.
 */
export async function rawChainedBatch ({ n, batchSize = 1000, sync = false, keyRecords = false }: RawChainedBatchOptions): Promise<BenchResult> {
  return await withTempDir(async (dir) => {
    const db = openDb(dir)
    await db.open()
    const packr = createPackr()
    const source = benchSourceId(1)
    const baseTs = Date.now()
    let bytes = 0
    collectGarbage()
    const elapsed = startTimer()
    let seconds: number
    try {
      for (let i = 0; i < n; i += batchSize) {
        const batch = db.batch()
        const end = Math.min(n, i + batchSize)
        for (let j = i; j < end; j++) {
          const update = makeUpdate(j, source, baseTs)
          const key = historyKey(source, update[1])
          const value = packr.pack(update)
          bytes += key.length + value.length
          batch.put(key, value)
          if (keyRecords) {
            const record = packr.pack([update[1], source])
            const name = `k!key-${j}`
            bytes += name.length + record.length
            batch.put(name, record)
          }
        }
        // No options object unless needed: the design notes options slow batches down.
        await (sync ? batch.write({ sync: true }) : batch.write())
      }
      seconds = elapsed()
    } finally {
      await db.close()
    }
    return {
      name: (sync ? 'raw chained batch (fsync)' : 'raw chained batch') + (keyRecords ? ', log + key records' : ''),
      ops: n, seconds, opsPerSec: n / seconds, unit: 'entries', batchSize, sync, writtenBytes: bytes
    }
  })
}

/**
 * Encodes then decodes n updates with msgpackr (records off). Updates are built
 * untimed in chunks, so construction is not counted and memory stays bounded.
 */
export async function msgpackCodec ({ n, chunk = 10_000 }: { n: number, chunk?: number }): Promise<BenchResult> {
  const packr = createPackr()
  const source = benchSourceId(1)
  const baseTs = Date.now()
  const updates = new Array<BenchUpdate>(chunk)
  const frames = new Array<Uint8Array>(chunk)
  let encodeSeconds = 0
  let decodeSeconds = 0
  let bytes = 0
  let sink = 0
  collectGarbage()
  for (let i = 0; i < n; i += chunk) {
    const m = Math.min(chunk, n - i)
    for (let j = 0; j < m; j++) updates[j] = makeUpdate(i + j, source, baseTs)
    let elapsed = startTimer()
    for (let j = 0; j < m; j++) frames[j] = packr.pack(updates[j])
    encodeSeconds += elapsed()
    for (let j = 0; j < m; j++) bytes += (frames[j] as Uint8Array).length
    elapsed = startTimer()
    // The sink keeps the decode from being optimised away.
    for (let j = 0; j < m; j++) sink += (packr.unpack(frames[j] as Uint8Array) as unknown[]).length
    decodeSeconds += elapsed()
    const last: unknown = packr.unpack(frames[m - 1] as Uint8Array)
    if (!isBenchUpdate(last)) throw new Error('msgpack round trip changed the update shape')
  }
  if (sink !== n * 3) throw new Error('msgpack decoded the wrong number of elements')
  const seconds = encodeSeconds + decodeSeconds
  return {
    name: 'msgpackr encode+decode',
    ops: n, seconds, opsPerSec: n / seconds, unit: 'updates',
    encodePerSec: Math.round(n / encodeSeconds),
    decodePerSec: Math.round(n / decodeSeconds),
    bytesPerUpdate: bytes / n
  }
}

async function listen (server: net.Server): Promise<number> {
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no TCP port')
  return address.port
}

/** Raw loopback TCP: one socket writes `bytes` in chunkSize writes, honouring backpressure. */
export async function loopbackTcp ({ bytes, chunkSize = 64 * 1024 }: { bytes: number, chunkSize?: number }): Promise<BenchResult> {
  let received = 0
  let arrived: () => void = () => {}
  const allArrived = new Promise<void>((resolve) => { arrived = resolve })
  const server = net.createServer((sock) => {
    sock.on('data', (data: Buffer) => { received += data.length; if (received >= bytes) arrived() })
  })
  const port = await listen(server)
  const chunk = Buffer.alloc(chunkSize, 0x61)
  collectGarbage()
  const elapsed = startTimer()
  const sock = net.connect(port, '127.0.0.1')
  await once(sock, 'connect')
  for (let sent = 0; sent < bytes; sent += chunkSize) {
    // The same buffer may be queued many times: its bytes never change.
    const ok = sock.write(bytes - sent >= chunkSize ? chunk : chunk.subarray(0, bytes - sent))
    if (!ok) await once(sock, 'drain')
  }
  await allArrived
  const seconds = elapsed()
  sock.destroy()
  server.close()
  return { name: 'loopback tcp', ops: bytes, seconds, opsPerSec: bytes / seconds, unit: 'bytes', chunkSize }
}

/** Writes n length-prefixed msgpack update frames to `sock` in ~64 KB writes. */
async function sendFrames (sock: net.Socket, n: number): Promise<void> {
  const packr = createPackr()
  const source = benchSourceId(2)
  const baseTs = Date.now()
  const size = 64 * 1024
  let buf = Buffer.allocUnsafe(size)
  let pos = 0
  const flush = async (): Promise<void> => {
    const ok = sock.write(buf.subarray(0, pos))
    // The socket keeps the written buffer; fill a new one.
    buf = Buffer.allocUnsafe(size)
    pos = 0
    if (!ok) await once(sock, 'drain')
  }
  for (let i = 0; i < n; i++) {
    const body = packr.pack(makeUpdate(i, source, baseTs))
    if (pos + 4 + body.length > size) await flush()
    buf.writeUInt32BE(body.length, pos)
    buf.set(body, pos + 4)
    pos += 4 + body.length
  }
  if (pos > 0) await flush()
  sock.end()
}

/**
 * The bare replication pipeline: msgpack frames over loopback TCP, decoded, shape
 * checked and written to classic-level as history entries in chained batches, one
 * write in flight while the next batch fills. Nothing else: no clock, no index, no
 * echo. The design's "replicated, persisted updates per second" goal halves this.
 */
export async function barePipeline ({ n, batchSize = 1000 }: { n: number, batchSize?: number }): Promise<BenchResult> {
  return await withTempDir(async (dir) => {
    const db = openDb(dir)
    await db.open()
    const server = net.createServer((sock) => { sendFrames(sock, n).catch(() => sock.destroy()) })
    const port = await listen(server)
    const packr = createPackr()
    collectGarbage()
    const elapsed = startTimer()
    const sock = net.connect(port, '127.0.0.1')
    let batch = db.batch()
    let inBatch = 0
    let count = 0
    let writing = Promise.resolve()
    let pendingWrites = 0
    const commit = (): void => {
      const full = batch
      batch = db.batch()
      inBatch = 0
      pendingWrites++
      // Two batches queued is enough overlap; beyond that, push back on the socket.
      if (pendingWrites >= 2) sock.pause()
      writing = writing.then(async () => {
        await full.write()
        if (--pendingWrites < 2) sock.resume()
      })
    }
    let pending: Buffer = Buffer.alloc(0)
    const done = new Promise<void>((resolve, reject) => {
      sock.on('error', reject).on('end', () => {
        if (count !== n) reject(new Error(`stream ended after ${count} of ${n} updates`))
      })
      sock.on('data', (data: Buffer) => {
        const buf = pending.length > 0 ? Buffer.concat([pending, data]) : data
        let off = 0
        while (off + 4 <= buf.length) {
          const len = buf.readUInt32BE(off)
          if (off + 4 + len > buf.length) break
          const frame = buf.subarray(off + 4, off + 4 + len)
          off += 4 + len
          const update: unknown = packr.unpack(frame)
          if (!isBenchUpdate(update)) return reject(new Error('bad frame'))
          batch.put(historyKey(update[2], update[1]), frame)
          count++
          if (++inBatch >= batchSize) commit()
        }
        pending = buf.subarray(off)
        if (count === n) {
          if (inBatch > 0) commit()
          writing.then(resolve, reject)
        }
      })
    })
    let seconds: number
    try {
      await done
      seconds = elapsed()
    } finally {
      sock.destroy()
      server.close()
      await writing.catch(() => {})
      await db.close()
    }
    return { name: 'bare msgpack>tcp>level', ops: n, seconds, opsPerSec: n / seconds, unit: 'updates', batchSize }
  })
}
