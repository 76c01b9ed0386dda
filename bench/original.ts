// Baselines measured on the original scuttlebutt@5.6.15, which keeps everything in
// memory and persists nothing: the figures scuttledb's sync and live goals divide by.
import net from 'node:net'
import type { EventEmitter } from 'node:events'
import { setImmediate as nextTurn } from 'node:timers/promises'
import Model, { type OriginalStream } from 'scuttlebutt/model.js'
import { modelKey, modelValue } from './fixtures.js'
import type { BenchResult } from './registry.js'
import { collectGarbage, forkBench, startTimer, type ChildContext } from './util.js'

/** Counts events and resolves once a target count is reached (or a timeout passes). */
export function countEvents (emitter: EventEmitter, event: string): { count: () => number, reach: (target: number, timeoutMs?: number) => Promise<boolean> } {
  let count = 0
  let wake: (() => void) | undefined
  let target = Infinity
  emitter.on(event, () => { if (++count >= target && wake !== undefined) wake() })
  return {
    count: () => count,
    reach: async (want, timeoutMs) => {
      if (count >= want) return true
      target = want
      return await new Promise<boolean>((resolve) => {
        const timer = timeoutMs === undefined ? undefined : setTimeout(() => resolve(false), timeoutMs)
        wake = () => { if (timer !== undefined) clearTimeout(timer); resolve(true) }
      })
    }
  }
}

function filledModel (n: number): Model {
  const a = new Model()
  for (let i = 0; i < n; i++) a.set(modelKey(i), modelValue(i))
  return a
}

/** A server on 127.0.0.1 that replicates `model` to every connection; resolves with its port. */
export async function serveModel (model: Model, onStream?: (s: OriginalStream) => void): Promise<{ port: number, close: () => void }> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((sock) => {
    sockets.add(sock)
    sock.on('error', () => {}).on('close', () => sockets.delete(sock))
    const s = model.createStream()
    s.pipe(sock).pipe(s)
    onStream?.(s)
  })
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no TCP port')
  return {
    port: address.port,
    close: () => { for (const s of sockets) s.destroy(); server.close() }
  }
}

export function connectModel (model: Model, port: number): { stream: OriginalStream, socket: net.Socket } {
  const socket = net.connect(port, '127.0.0.1')
  socket.on('error', () => {})
  const stream = model.createStream()
  stream.pipe(socket).pipe(stream)
  return { stream, socket }
}

/** Resolves when `stream` has emitted 'sync' and `model` has applied n updates. */
async function synced (stream: OriginalStream, updates: ReturnType<typeof countEvents>, n: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    stream.once('sync', resolve).once('error', reject)
  })
  // 'sync' follows the whole history on the wire, so this is a check, not a wait.
  if (!await updates.reach(n, 10_000)) throw new Error(`synced with ${updates.count()} of ${n} keys`)
}

export interface OriginalSyncOptions {
  n: number
  /** 'tcp': loopback socket, newline JSON; 'inprocess': the two streams piped directly. */
  transport?: 'tcp' | 'inprocess'
}

/**
 * Initial sync of a fresh original Model from one holding n keys: time from connect
 * until the fresh side's stream emits 'sync' with all n keys applied. Over tcp with
 * both sides in one process the original is ~3x slower than in two processes: the
 * socket pushes back while the reader cannot run, the whole history queues in the
 * `duplex` buffer, and draining it with Array#shift() is quadratic (cpu profile).
 */
export async function originalSync ({ n, transport = 'tcp' }: OriginalSyncOptions): Promise<BenchResult> {
  const a = filledModel(n)
  const b = new Model()
  const updates = countEvents(b, 'update')
  collectGarbage()
  let seconds: number
  if (transport === 'tcp') {
    const server = await serveModel(a)
    const elapsed = startTimer()
    const { stream, socket } = connectModel(b, server.port)
    await synced(stream, updates, n)
    seconds = elapsed()
    socket.destroy()
    server.close()
  } else {
    const elapsed = startTimer()
    const sa = a.createStream()
    const sb = b.createStream()
    sa.pipe(sb).pipe(sa)
    await synced(sb, updates, n)
    seconds = elapsed()
  }
  a.dispose()
  b.dispose()
  return { name: `original sync (${transport})`, ops: n, seconds, opsPerSec: n / seconds, unit: 'updates', transport }
}

export interface OriginalLiveOptions {
  n: number
  /** Local sets per event-loop turn: the writer yields between chunks so replication runs alongside. */
  chunk?: number
}

/**
 * Live replication between two original Models over loopback TCP: after sync, `a`
 * sets n keys (chunk per turn) and the time runs until `b` has applied all n. The
 * original echoes every update back to its sender; that traffic is counted too.
 */
export async function originalLive ({ n, chunk = 1000 }: OriginalLiveOptions): Promise<BenchResult> {
  const a = new Model()
  const b = new Model()
  let serverStream: OriginalStream | undefined
  const server = await serveModel(a, (s) => { serverStream = s })
  const { stream, socket } = connectModel(b, server.port)
  await new Promise<void>((resolve, reject) => stream.once('sync', resolve).once('error', reject))
  if (serverStream === undefined) throw new Error('server stream missing after sync')
  const seen = countEvents(b, 'update')
  const echoes = countEvents(a, 'old_data')
  collectGarbage()
  const elapsed = startTimer()
  for (let i = 0; i < n; i += chunk) {
    const end = Math.min(n, i + chunk)
    for (let j = i; j < end; j++) a.set(modelKey(j), modelValue(j))
    await nextTurn()
  }
  if (!await seen.reach(n, 60_000)) throw new Error(`b saw ${seen.count()} of ${n} updates`)
  const seconds = elapsed()
  // Echoes trail the last update; give them a bounded while so a change in the
  // original's behaviour shows as a smaller count instead of a hang.
  await echoes.reach(n, Math.max(2000, seconds * 2000))
  const withEchoes = elapsed()
  socket.destroy()
  server.close()
  a.dispose()
  b.dispose()
  return {
    name: 'original live (tcp)',
    ops: n,
    seconds,
    opsPerSec: n / seconds,
    unit: 'updates',
    chunk,
    echoes: echoes.count(),
    secondsWithEchoes: withEchoes
  }
}

/** Child side A of originalSyncProcesses: serve a Model of n keys until told to stop. */
export async function originalSyncServerSide ({ n }: { n: number }, ctx: ChildContext): Promise<{ keys: number }> {
  const a = filledModel(n)
  const server = await serveModel(a)
  ctx.report({ port: server.port })
  await ctx.nextMessage()
  server.close()
  return { keys: a.keys().length }
}

/** Child side B of originalSyncProcesses: sync a fresh Model from the given port. */
export async function originalSyncClientSide ({ n, port }: { n: number, port: number }): Promise<BenchResult> {
  const b = new Model()
  const updates = countEvents(b, 'update')
  const elapsed = startTimer()
  const { stream, socket } = connectModel(b, port)
  await synced(stream, updates, n)
  const seconds = elapsed()
  socket.destroy()
  return { name: 'original sync (2 processes)', ops: n, seconds, opsPerSec: n / seconds, unit: 'updates' }
}

/**
 * originalSync over TCP with each Model in its own process, so that each side's
 * peak RSS (kernel high-water mark, node's own ~40 MB included) can be reported.
 */
export async function originalSyncProcesses ({ n }: { n: number }): Promise<BenchResult> {
  const server = forkBench<{ n: number }, { keys: number }>('./original.js', 'originalSyncServerSide', { n })
  try {
    const { port } = await server.nextReport() as { port: number }
    const client = await forkBench<{ n: number, port: number }, BenchResult>('./original.js', 'originalSyncClientSide', { n, port }).done
    server.send('stop')
    const serving = await server.done
    return { ...client.value, serverPeakRss: serving.maxRss, clientPeakRss: client.maxRss }
  } finally {
    server.kill()
  }
}
