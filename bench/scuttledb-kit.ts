// Building blocks of the scuttledb benchmarks: Models on classic-level, filling
// them with the fixture keys, serving and connecting them over loopback TCP.
import net from 'node:net'
import { pipeline } from 'node:stream'
import { Model, type ReplicationStream, type ScuttlebuttOptions } from '../lib/index.js'
import { modelKey, modelValue } from './fixtures.js'

/** Sets in flight at once: awaited in rounds, so each round is one group commit. */
export const DEFAULT_WINDOW = 1000

/** Opens a Model on classic-level in `dir` (created by LevelDB when missing). */
export async function openModel (dir: string, options: Partial<ScuttlebuttOptions> = {}): Promise<Model> {
  const model = new Model({ db: dir, ...options })
  await model.open()
  return model
}

/**
 * Sets keys [from, to) to the fixture values (the same keys and values the
 * baselines write), `window` sets in flight, each round awaited before the next.
 */
export async function setRange (model: Model, from: number, to: number, window = DEFAULT_WINDOW): Promise<void> {
  const round: Array<Promise<void>> = []
  for (let i = from; i < to; i += window) {
    const end = Math.min(to, i + window)
    round.length = 0
    for (let j = i; j < end; j++) round.push(model.set(modelKey(j), modelValue(j)))
    await Promise.all(round)
  }
}

/** A Model opened on disk in `dir` and filled with keys [0, n); the caller closes it. */
export async function prepareModel (dir: string, n: number): Promise<Model> {
  const model = await openModel(dir)
  await setRange(model, 0, n)
  return model
}

/** A TCP server on 127.0.0.1 replicating `model` to every connection: `pipeline(s, socket, s)`. */
export interface Served {
  port: number
  /** Resolves when the first connection arrives. */
  connected: Promise<void>
  close: () => Promise<void>
}

export async function serveModel (model: Model): Promise<Served> {
  const sockets = new Set<net.Socket>()
  let arrived: () => void = () => {}
  const connected = new Promise<void>((resolve) => { arrived = resolve })
  const server = net.createServer((sock) => {
    arrived()
    sockets.add(sock)
    sock.on('close', () => sockets.delete(sock))
    const stream = model.createStream()
    pipeline(stream, sock, stream, () => {})
  })
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no TCP port')
  return {
    port: address.port,
    connected,
    close: async () => {
      for (const sock of sockets) sock.destroy()
      await new Promise<void>((resolve) => server.close(() => { resolve() }))
    }
  }
}

/** A connected stream, its socket, and the pipeline's end (its error, if any). */
export interface Connection {
  stream: ReplicationStream
  socket: net.Socket
  closed: Promise<Error | null | undefined>
}

/** Connects `model` to a served model over TCP: `pipeline(s, socket, s)`. */
export function connectModel (model: Model, port: number): Connection {
  const socket = net.connect(port, '127.0.0.1')
  const stream = model.createStream()
  const closed = new Promise<Error | null | undefined>((resolve) => { pipeline(stream, socket, stream, (err) => { resolve(err) }) })
  return { stream, socket, closed }
}

/**
 * Resolves on the stream's `sync`; rejects when the pipeline ends first. (No
 * 'close' listener of its own: pipeline() already puts ten on the stream.)
 */
export async function waitSync ({ stream, closed }: Connection): Promise<void> {
  let onSync: () => void = () => {}
  const synced = new Promise<void>((resolve) => { onSync = resolve; stream.once('sync', onSync) })
  const ended = closed.then((err) => { throw err ?? new Error('stream closed before sync') })
  try {
    await Promise.race([synced, ended])
  } finally {
    stream.off('sync', onSync)
    ended.catch(() => {})
  }
}

/** Samples this process's RSS every intervalMs from now until stop(), which returns the peak. */
export function sampleRss (intervalMs = 20): { stop: () => number } {
  let peak = process.memoryUsage.rss()
  const sample = (): void => { peak = Math.max(peak, process.memoryUsage.rss()) }
  const timer = setInterval(sample, intervalMs)
  return {
    stop: () => {
      clearInterval(timer)
      sample()
      return peak
    }
  }
}
