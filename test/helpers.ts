import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough, pipeline } from 'node:stream'
import { once } from 'node:events'
import { MemoryLevel } from 'memory-level'
import { Packr } from 'msgpackr'
import type { Test } from 'tape'
import { HybridClock, Model, type ReplicationStream, type Scuttlebutt, type ScuttlebuttOptions, type StreamOptions } from '../lib/index.js'

type Resources = Pick<MemoryLevel<string, Buffer>, 'attachResource' | 'detachResource'>

/** Count what is attached to `db` (sublevels, iterators) and not yet detached. */
export function trackResources (db: Resources): () => number {
  let attached = 0
  const attach = db.attachResource.bind(db)
  const detach = db.detachResource.bind(db)
  db.attachResource = (resource) => { attached++; attach(resource) }
  db.detachResource = (resource) => { attached--; detach(resource) }
  return () => attached
}

/** A fresh temporary directory, removed when the test ends. */
export async function tempDir (t: Test, prefix = 'scuttledb-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

/** An open Model on memory-level, closed when the test ends. */
export async function memoryModel (t: Test, options: Partial<ScuttlebuttOptions> = {}): Promise<Model> {
  const model = new Model({ db: new MemoryLevel(), ...options })
  await model.open()
  t.teardown(async () => { await model.close() })
  return model
}

/** An open Model on classic-level in a temp dir, closed when the test ends. */
export async function diskModel (t: Test, options: Partial<ScuttlebuttOptions> = {}): Promise<Model> {
  const model = new Model({ db: await tempDir(t), ...options })
  await model.open()
  t.teardown(async () => { await model.close() })
  return model
}

/** Two connected streams and a promise for both sides' `sync`. */
export interface Link {
  a: ReplicationStream
  b: ReplicationStream
  synced: Promise<void>
  closed: Promise<Error | null | undefined>
}

/** Connect two instances in-process; `synced` resolves when both streams emitted `sync`. */
export function link (x: Scuttlebutt<any>, y: Scuttlebutt<any>, ox: StreamOptions = {}, oy: StreamOptions = {}): Link {
  const a = x.createStream(ox)
  const b = y.createStream(oy)
  const synced = Promise.all([once(a, 'sync'), once(b, 'sync')]).then(() => {})
  const closed = new Promise<Error | null | undefined>((resolve) => { pipeline(a, b, a, (err) => { resolve(err) }) })
  return { a, b, synced, closed }
}

/** Every update of an instance's history. */
export async function allHistory (x: Scuttlebutt<any>): Promise<unknown[]> {
  const out: unknown[] = []
  for await (const update of x.history()) out.push(update)
  return out
}

/** Resolve after `ms` milliseconds (for letting I/O settle, never for asserting speed). */
export async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

/** Poll `check` until it returns true or `timeoutMs` passes; resolves to the last result. */
export async function until (check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<boolean> {
  const end = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return true
    if (Date.now() > end) return false
    await sleep(5)
  }
}

/** Assert that a promise rejects with an error of `type` (tape 5 has no t.rejects). */
export async function rejects (t: Test, promise: Promise<unknown>, type: new (...args: any[]) => Error, message: string): Promise<void> {
  try {
    await promise
    t.fail(`${message}: resolved`)
  } catch (err) {
    t.ok(err instanceof type, message)
  }
}

const packr = new Packr({ useRecords: false, variableMapSize: true })

/** One msgpack frame (4-byte big-endian length, then the value) as a peer would send it. */
export function frame (value: unknown): Buffer {
  const body = packr.pack(value)
  const head = Buffer.alloc(4)
  head.writeUInt32BE(body.length)
  return Buffer.concat([head, body])
}

/** Collect uncaught exceptions for the rest of the test (a throwing listener surfaces as one). */
export function captureUncaught (t: Test): unknown[] {
  const uncaught: unknown[] = []
  const original = process.listeners('uncaughtException')
  process.removeAllListeners('uncaughtException')
  process.on('uncaughtException', (err) => uncaught.push(err))
  t.teardown(() => {
    process.removeAllListeners('uncaughtException')
    for (const l of original) process.on('uncaughtException', l)
  })
  return uncaught
}

/**
 * Link two instances through a pausable wire, wait for sync, then stall the
 * wire (a peer that stops reading). `resume()` reconnects it.
 */
export async function stalledLink (x: Scuttlebutt<any>, y: Scuttlebutt<any>): Promise<{ a: ReplicationStream, b: ReplicationStream, resume: () => void }> {
  const a = x.createStream()
  const b = y.createStream()
  const wire = new PassThrough({ highWaterMark: 1024 })
  b.pipe(a)
  a.pipe(wire)
  wire.pipe(b)
  await once(b, 'sync')
  wire.unpipe(b)
  wire.pause()
  return { a, b, resume: () => { wire.resume(); wire.pipe(b) } }
}

/**
 * `count` node ids, in ascending order, whose clocks start a millisecond at the
 * same timestamp (each clock is spread by its id): for tests of equal-timestamp ties.
 */
export function tiedIds (count: number): string[] {
  const groups = new Map<number, string[]>()
  for (let i = 0; ; i++) {
    const id = `node-${String(i).padStart(4, '0')}`
    const clock = new HybridClock(() => 1_700_000_000_000)
    clock.spread(id)
    const first = clock.next()
    const group = groups.get(first) ?? []
    group.push(id)
    groups.set(first, group)
    if (group.length === count) return group
  }
}
