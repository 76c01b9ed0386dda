// Live replication with each node in its own process, as two nodes run: the writer
// sets n keys (scuttledb: on disk, `window` in flight; the original: in memory, a
// chunk per turn) and the time runs, in the parent, from telling the writer to go
// until the receiver reports that it has all n (scuttledb: committed to disk). The
// one-process rows (bench/scuttledb-work.ts scuttledbLive, bench/original.ts
// originalLive) run both nodes on one thread; these let each use a core.
import path from 'node:path'
import { setImmediate as nextTurn } from 'node:timers/promises'
import OriginalModel from 'scuttlebutt/model.js'
import { modelKey, modelValue } from './fixtures.js'
import { connectModel as connectOriginal, countEvents, serveModel as serveOriginal } from './original.js'
import type { BenchResult } from './registry.js'
import { DEFAULT_WINDOW, connectModel, openModel, serveModel, setRange, waitSync } from './scuttledb-kit.js'
import { countUpdates } from './scuttledb-work.js'
import { collectGarbage, forkBench, makeTempDir, removeTempDir, startTimer, type ChildContext } from './util.js'

type Kind = 'scuttledb' | 'original'

/** Writer side: serve, report the port, write n keys on 'go', close on 'stop'. */
export async function liveWriterSide ({ n, kind }: { n: number, kind: Kind }, ctx: ChildContext): Promise<{ writerSeconds: number, echoes: number }> {
  if (kind === 'original') {
    const a = new OriginalModel()
    const echoes = countEvents(a, 'old_data')
    const server = await serveOriginal(a)
    ctx.report({ port: server.port })
    await ctx.nextMessage()
    collectGarbage()
    const elapsed = startTimer()
    for (let i = 0; i < n; i += 1000) {
      for (let j = i; j < Math.min(n, i + 1000); j++) a.set(modelKey(j), modelValue(j))
      await nextTurn()
    }
    const writerSeconds = elapsed()
    await ctx.nextMessage()
    server.close()
    a.dispose()
    return { writerSeconds, echoes: echoes.count() }
  }
  const dir = await makeTempDir('scuttledb-bench-live-a-')
  try {
    const a = await openModel(path.join(dir, 'db'))
    const served = await serveModel(a)
    ctx.report({ port: served.port })
    await ctx.nextMessage()
    collectGarbage()
    const elapsed = startTimer()
    await setRange(a, 0, n, DEFAULT_WINDOW)
    const writerSeconds = elapsed()
    await ctx.nextMessage()
    await served.close()
    const echoes = a.stats.old
    await a.close()
    return { writerSeconds, echoes }
  } finally {
    await removeTempDir(dir)
  }
}

/** Receiver side: connect, report once synced, report again when all n arrived, close on 'stop'. */
export async function liveReceiverSide ({ n, port, kind }: { n: number, port: number, kind: Kind }, ctx: ChildContext): Promise<{ received: number }> {
  if (kind === 'original') {
    const b = new OriginalModel()
    const seen = countEvents(b, 'update')
    const { stream, socket } = connectOriginal(b, port)
    await new Promise<void>((resolve, reject) => stream.once('sync', resolve).once('error', reject))
    ctx.report('synced')
    if (!await seen.reach(n, 120_000)) throw new Error(`the receiver saw ${seen.count()} of ${n} updates`)
    ctx.report('arrived')
    await ctx.nextMessage()
    socket.destroy()
    b.dispose()
    return { received: seen.count() }
  }
  const dir = await makeTempDir('scuttledb-bench-live-b-')
  try {
    const b = await openModel(path.join(dir, 'db'))
    const conn = connectModel(b, port)
    await waitSync(conn)
    const arrived = countUpdates(b, n)
    collectGarbage()
    ctx.report('synced')
    await arrived
    ctx.report('arrived')
    await ctx.nextMessage()
    conn.socket.destroy()
    const received = b.stats.committed
    await b.close()
    return { received }
  } finally {
    await removeTempDir(dir)
  }
}

/** One live run across two processes; the rate is n over the parent's go-to-arrived time. */
export async function liveProcesses ({ n, kind, name }: { n: number, kind: Kind, name: string }): Promise<BenchResult> {
  const writer = forkBench<{ n: number, kind: Kind }, { writerSeconds: number, echoes: number }>('./live-processes.js', 'liveWriterSide', { n, kind })
  try {
    const { port } = await writer.nextReport() as { port: number }
    const receiver = forkBench<{ n: number, port: number, kind: Kind }, { received: number }>('./live-processes.js', 'liveReceiverSide', { n, port, kind })
    try {
      if (await receiver.nextReport() !== 'synced') throw new Error('the receiver did not sync')
      const elapsed = startTimer()
      writer.send('go')
      if (await receiver.nextReport() !== 'arrived') throw new Error('the receiver did not report its updates')
      const seconds = elapsed()
      writer.send('stop')
      receiver.send('stop')
      const [written, received] = await Promise.all([writer.done, receiver.done])
      if (received.value.received < n) throw new Error(`the receiver has ${received.value.received} of ${n} updates`)
      return {
        name,
        ops: n,
        seconds,
        opsPerSec: n / seconds,
        unit: 'updates',
        writerPerSec: n / written.value.writerSeconds,
        echoes: written.value.echoes,
        writerPeakRss: written.maxRss,
        receiverPeakRss: received.maxRss
      }
    } finally {
      receiver.kill()
    }
  } finally {
    writer.kill()
  }
}
