import { once } from 'events'
import { pipeline } from 'stream'
import { deepEqual } from './deep-equal.js'
import type { Scuttlebutt, ScuttlebuttOptions } from './scuttlebutt.js'
import type { Database } from './storage.js'
import type { ReplicationStream } from './stream.js'
import { codes } from './errors.js'

/** The assertions the suite uses: a subset of tape's `Test`. */
export interface SuiteAssert {
  equal: (actual: unknown, expected: unknown, message?: string) => void
  deepEqual: (actual: unknown, expected: unknown, message?: string) => void
  ok: (value: unknown, message?: string) => void
  comment: (message: string) => void
}

/** A test function such as tape's `test`. */
export type SuiteTest = (name: string, fn: (t: SuiteAssert) => Promise<void>) => void

/**
 * Any data type, by the members the suite uses: those that do not depend on a
 * type's events (no one instantiation of Scuttlebutt<E> is a supertype of all).
 */
type AnyScuttlebutt = Pick<Scuttlebutt, 'open' | 'close' | 'id' | 'clock' | 'history' | 'createStream' | 'dispose' | 'streams'>

/** What the suite needs to know about a data type and a store. */
export interface SuiteOptions<T extends AnyScuttlebutt> {
  test: SuiteTest
  /** A label for test names, e.g. "Model on memory-level". */
  name: string
  /** A fresh, open database (or sublevel) for one instance; `close` releases it. */
  database: () => Promise<{ db: Database, close: () => Promise<void> }>
  /** A new (unopened) instance of the data type on `db`. */
  create: (options: ScuttlebuttOptions) => T
  /** Make one random local change; `random()` is seeded. */
  write: (instance: T, random: () => number) => Promise<void>
  /** The observable state, compared across replicas with deepEqual. */
  state: (instance: T) => Promise<unknown>
  /** Seed for the randomized tests (default 1). */
  seed?: number
}

/** A small seeded PRNG (mulberry32), so a failing run can be replayed. */
export function seededRandom (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let r = Math.imul(a ^ (a >>> 15), 1 | a)
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296
  }
}

async function historyOf (x: AnyScuttlebutt): Promise<unknown[]> {
  const out: unknown[] = []
  for await (const update of x.history()) out.push(update)
  return out
}

function connect (x: AnyScuttlebutt, y: AnyScuttlebutt): { a: ReplicationStream, b: ReplicationStream, synced: Promise<void>, closed: Promise<void> } {
  const a = x.createStream()
  const b = y.createStream()
  const synced = Promise.all([once(a, 'sync'), once(b, 'sync')]).then(() => {})
  // A link may be cut before it syncs; only the links awaited report that.
  synced.catch(() => {})
  const closed = new Promise<void>((resolve) => { pipeline(a, b, a, () => { resolve() }) })
  return { a, b, synced, closed }
}

/**
 * The conformance suite every Scuttlebutt data type should pass, on every
 * abstract-level store: the protocol checklist, persistence across reopen,
 * convergence under a seeded random network, and malformed input.
 */
export function suite<T extends AnyScuttlebutt> (options: SuiteOptions<T>): void {
  const { test, name, database, create, write, state } = options
  const seed = options.seed ?? 1

  /** Open `n` instances, run `fn`, then close instances and databases whatever happens. */
  async function withInstances (n: number, fn: (xs: T[], dbs: Database[]) => Promise<void>): Promise<void> {
    const stores = await Promise.all(Array.from({ length: n }, async () => await database()))
    const xs = stores.map(({ db }) => create({ db }))
    try {
      await Promise.all(xs.map(async (x) => { await x.open() }))
      await fn(xs, stores.map((s) => s.db))
    } finally {
      await Promise.all(xs.map(async (x) => { await x.close() }))
      await Promise.all(stores.map(async (s) => { await s.close() }))
    }
  }

  test(`${name}: replicates history both ways, sync fires once per stream, then histories are equal`, async (t) => {
    await withInstances(2, async ([a, b]) => {
      const random = seededRandom(seed)
      for (let i = 0; i < 20; i++) await write(a, random)
      for (let i = 0; i < 20; i++) await write(b, random)
      const link = connect(a, b)
      let syncs = 0
      link.a.on('sync', () => syncs++)
      link.b.on('sync', () => syncs++)
      await link.synced
      t.deepEqual(await historyOf(a), await historyOf(b), 'equal histories')
      t.deepEqual(await state(a), await state(b), 'equal states')
      t.deepEqual(a.clock, b.clock, 'equal clocks')
      await write(a, random)
      await waitFor(t, 'the live update', async () => deepEqual(await state(b), await state(a)))
      t.deepEqual(await state(b), await state(a), 'a live update arrives')
      t.equal(syncs, 2, 'one sync per stream')
      a.dispose()
      await link.closed
      t.equal(a.streams + b.streams, 0, 'dispose() ended the streams')
    })
  })

  test(`${name}: history(clock) is what the clock lacks, in (ts, source) order`, async (t) => {
    await withInstances(1, async ([a]) => {
      const random = seededRandom(seed + 1)
      for (let i = 0; i < 10; i++) await write(a, random)
      const all = await historyOf(a) as Array<[unknown, number, string]>
      const sorted = [...all].sort((x, y) => x[1] - y[1] || (x[2] < y[2] ? -1 : x[2] > y[2] ? 1 : 0))
      t.deepEqual(all, sorted, 'ordered')
      const newer: unknown[] = []
      if (all.length > 0) for await (const u of a.history({ [a.id]: all[0][1] })) newer.push(u)
      t.deepEqual(newer, all.slice(1), 'filtered by the clock')
    })
  })

  test(`${name}: state, history, clock and id survive close and reopen`, async (t) => {
    const { db, close } = await database()
    try {
      const a = create({ db })
      await a.open()
      const random = seededRandom(seed + 2)
      for (let i = 0; i < 15; i++) await write(a, random)
      const before = { id: a.id, clock: a.clock, history: await historyOf(a), state: await state(a) }
      await a.close()
      const again = create({ db })
      await again.open()
      t.deepEqual({ id: again.id, clock: again.clock, history: await historyOf(again), state: await state(again) }, before, 'same after reopen')
      await write(again, random)
      t.ok(Object.values(again.clock)[0] as number > (before.clock[before.id] ?? 0), 'new writes get later timestamps')
      await again.close()
    } finally {
      await close()
    }
  })

  test(`${name}: converges under a seeded random network (seed ${seed})`, async (t) => {
    await withInstances(3, async (xs) => {
      const random = seededRandom(seed + 3)
      const links = new Map<string, ReturnType<typeof connect>>()
      for (let step = 0; step < 60; step++) {
        const r = random()
        const i = Math.floor(random() * xs.length)
        const j = (i + 1 + Math.floor(random() * (xs.length - 1))) % xs.length
        const pair = `${Math.min(i, j)}-${Math.max(i, j)}`
        if (r < 0.6) {
          await write(xs[i], random)
        } else if (r < 0.8 && !links.has(pair)) {
          links.set(pair, connect(xs[i], xs[j]))
        } else if (links.has(pair)) {
          const link = links.get(pair) as ReturnType<typeof connect>
          links.delete(pair)
          link.a.destroy()
          await link.closed
        }
      }
      for (const link of links.values()) link.a.destroy()
      await Promise.all([...links.values()].map(async (l) => { await l.closed }))
      const final = [connect(xs[0], xs[1]), connect(xs[1], xs[2])]
      await Promise.all(final.map(async (l) => { await l.synced }))
      // Peers 0 and 2 meet only through 1: what crossed it live may still be on its way.
      const snapshot = async (): Promise<Array<{ clock: unknown, state: unknown, history: unknown }>> =>
        await Promise.all(xs.map(async (x) => ({ clock: x.clock, state: await state(x), history: await historyOf(x) })))
      await waitFor(t, `convergence (replay with seed ${seed})`, async () => {
        const [first, ...rest] = await snapshot()
        return rest.every((other) => deepEqual(other, first))
      })
      const [first, ...rest] = await snapshot()
      rest.forEach((other, i) => {
        t.deepEqual(other.state, first.state, `peer ${i + 1} has peer 0's state (replay with seed ${seed})`)
        t.deepEqual(other.clock, first.clock, `peer ${i + 1} has peer 0's clock (replay with seed ${seed})`)
        t.deepEqual(other.history, first.history, `peer ${i + 1} has peer 0's history (replay with seed ${seed})`)
      })
      for (const l of final) l.a.destroy()
      await Promise.all(final.map(async (l) => { await l.closed }))
    })
  })

  test(`${name}: malformed input closes that stream with a coded error and changes nothing`, async (t) => {
    await withInstances(1, async ([a]) => {
      const random = seededRandom(seed + 4)
      await write(a, random)
      const before = { history: await historyOf(a), state: await state(a), clock: a.clock }
      const inputs = [new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n'), Uint8Array.of(0, 0, 0, 3, 0x93, 0xc0, 0xcb), Uint8Array.of(0, 0, 0, 1, 0x01)]
      for (const input of inputs) {
        const s = a.createStream()
        const rejected = once((a as unknown as Scuttlebutt)._lifecycleEmitter, 'rejected')
        s.write(input)
        const [err] = await rejected as [{ code: string }]
        t.ok(Object.values(codes).includes(err.code as never), `coded error ${err.code}`)
        t.ok(s.destroyed, 'that stream is destroyed')
      }
      t.deepEqual({ history: await historyOf(a), state: await state(a), clock: a.clock }, before, 'nothing changed')
      await waitFor(t, 'the streams to close', async () => a.streams === 0)
      t.equal(a.streams, 0, 'the streams closed')
    })
  })
}

/**
 * Poll `check` until it holds. A wait that runs out is a failed assertion, never a
 * silent pass: the time bounds only how long a failure takes to report.
 */
async function waitFor (t: SuiteAssert, what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() >= end) {
      t.ok(false, `timed out after ${timeoutMs} ms waiting for ${what}`)
      return
    }
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
