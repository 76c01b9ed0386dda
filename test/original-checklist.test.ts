// The scenarios of the original scuttlebutt's own tests test/cleanup.js, test/unstream.js and
// test/persist.js (node_modules/scuttlebutt/test), rewritten for scuttledb's async API.
import test, { type Test } from 'tape'
import type { EventEmitter } from 'node:events'
import { Readable, Writable } from 'node:stream'
import { MemoryLevel } from 'memory-level'
import { Events, Model } from '../lib/index.js'

/** How long an expected event may take before the test calls it missing (not a speed check). */
const DEADLINE_MS = 5000

async function openModel (t: Test): Promise<Model> {
  const m = new Model({ db: new MemoryLevel() })
  await m.open()
  t.teardown(async () => { await m.close() })
  return m
}

async function openEvents (t: Test): Promise<Events> {
  const e = new Events({ db: new MemoryLevel() })
  await e.open()
  t.teardown(async () => { await e.close() })
  return e
}

/** The arguments of the next `count` emissions of `event`, or undefined if they do not all come by the deadline. */
async function next (emitter: EventEmitter, event: string, count = 1): Promise<unknown[][] | undefined> {
  const seen: unknown[][] = []
  let timer: NodeJS.Timeout | undefined
  let listener: ((...args: unknown[]) => void) | undefined
  try {
    return await new Promise((resolve) => {
      timer = setTimeout(() => { resolve(undefined) }, DEADLINE_MS)
      listener = (...args) => { if (seen.push(args) === count) resolve(seen) }
      emitter.on(event, listener)
    })
  } finally {
    clearTimeout(timer)
    emitter.off(event, listener as () => void)
  }
}

function listenerCounts (e: EventEmitter): Record<string, number> {
  return Object.fromEntries(e.eventNames().map((name) => [String(name), e.listenerCount(name)]))
}

test('cleanup.js: twenty streams, each ended on the next tick, leave no stream or listener behind', async (t) => {
  const e = await openEvents(t)
  const before = { instance: listenerCounts(e.lifecycle), events: e.eventNames().length }
  const closed = next(e.lifecycle, 'unstream', 20)
  let most = 0
  for (let i = 0; i < 20; i++) {
    const s = e.createStream()
    await new Promise((resolve) => process.nextTick(resolve))
    s.end()
    most = Math.max(most, e.streams)
  }
  t.ok(await closed !== undefined, 'every ended stream closed')
  t.ok(most <= 2, `at most two streams were open at once (${most})`)
  t.equal(e.streams, 0, 'no stream is left')
  t.deepEqual({ instance: listenerCounts(e.lifecycle), events: e.eventNames().length }, before, 'no listener is left')
})

test('unstream.js: ending the only stream emits unstream with 0', async (t) => {
  const m = await openModel(t)
  const s = m.createStream()
  const unstream = next(m, 'unstream')
  s.end()
  t.deepEqual(await unstream, [[0]], 'unstream(0)')
})

test('unstream.js: ending two streams emits unstream with 1, then 0', async (t) => {
  const m = await openModel(t)
  const s = m.createStream()
  const z = m.createStream()
  const unstream = next(m, 'unstream', 2)
  s.end()
  z.end()
  t.deepEqual(await unstream, [[1], [0]], 'unstream(1), unstream(0)')
})

test('unstream.js: dispose() closes two unconnected streams, unstream counts 1, then 0', async (t) => {
  const m = await openModel(t)
  m.createStream()
  m.createStream()
  const unstream = next(m, 'unstream', 2)
  m.dispose()
  t.deepEqual(await unstream, [[1], [0]], 'unstream(1), unstream(0)')
  t.equal(m.streams, 0, 'no stream is left')
})

test('persist.js: a read stream saved to an array until dispose(), replayed into a write stream, reproduces the history', async (t) => {
  const a = await openEvents(t)
  const b = await openEvents(t)
  const saved: Buffer[] = []
  const r = a.createReadStream()
  let ends = 0
  r.on('end', () => { ends++ })
  const file = new Writable({ write (chunk: Buffer, _encoding, callback) { saved.push(chunk); callback() } })
  const stored = new Promise((resolve) => file.on('finish', resolve))
  r.pipe(file)
  const messages: unknown[] = []
  a.on('message', (text) => messages.push(text))
  for (let i = 0; i < 3; i++) await a.record('message', `hello_${i}`)
  a.dispose()
  await stored
  t.equal(ends, 1, 'the read stream ended once')
  t.equal(messages.length, 3, 'a heard its three messages')

  const updates = next(b.lifecycle, 'update', 3)
  const w = b.createWriteStream()
  let closes = 0
  const closed = next(w, 'close')
  w.on('close', () => { closes++ })
  Readable.from(saved).pipe(w)
  t.ok(await closed !== undefined, 'the write stream closed')
  t.equal(closes, 1, 'once')
  t.ok(await updates !== undefined, 'b committed the three updates')
  const history = async (x: Events): Promise<unknown[]> => { const out = []; for await (const u of x.history()) out.push(u); return out }
  t.deepEqual(await history(b), await history(a), 'the same history')
  t.equal(a.streams + b.streams, 0, 'no stream is left on either side')
})
