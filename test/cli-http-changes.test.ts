import test from 'tape'
import { seededRandom } from '../lib/conformance.js'
import { compareStamps } from '../lib/protocol.js'
import { decodePosition, encodePosition } from '../lib/cli/http-changes.js'
import { diskModel, link, memoryModel } from './helpers.js'
import { SseClient, serveApi } from './fixtures/http-fixtures.js'

interface Change { key: string, value: unknown, ts: number, source: string }

/** Apply a feed's changes in order, as a client mirroring the store would. */
function mirror (changes: Change[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const c of changes) {
    if (c.value === null) Reflect.deleteProperty(out, c.key)
    else out[c.key] = c.value
  }
  return out
}

async function snapshot (model: { entries: () => AsyncGenerator<[string, unknown]> }): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {}
  for await (const [k, v] of model.entries()) out[k] = v
  return out
}

test('GET /events: a client that reconnects with Last-Event-ID gets exactly what it missed, then live', async (t) => {
  const seed = Number(process.env.SEED ?? Date.now() % 100000)
  t.comment(`seed ${seed}`)
  const random = seededRandom(seed)
  const model = await diskModel(t)
  const base = await serveApi(t, model)
  const client = new SseClient(`${base}/events`)
  t.teardown(() => { client.disconnect() })
  t.equal(await client.connect(), 200, 'the stream opens')
  t.ok(await client.until(() => client.lastEventId !== ''), 'the opening comment carries a starting id')
  let written = 0
  const write = async (): Promise<void> => {
    const key = `k${Math.floor(random() * 12)}`
    // Some deletes, many overwrites of few keys: what was missed is the latest of each.
    if (random() < 0.15) await model.delete(key)
    else await model.set(key, { n: written })
    written++
  }
  for (let round = 0; round < 6; round++) {
    for (let i = 0; i < 10; i++) await write()
    // Writes still in flight while the connection drops.
    const inFlight = Promise.all(Array.from({ length: 5 }, async () => { await write() }))
    client.disconnect()
    await inFlight
    for (let i = 0; i < 10; i++) await write()
    t.equal(await client.connect(), 200, `round ${round}: reconnected with Last-Event-ID`)
  }
  await model.set('sentinel', true)
  t.ok(await client.until(() => client.messages.some((m) => (JSON.parse(m.data) as Change).key === 'sentinel')), 'the last write arrived live')
  const changes = client.messages.map((m) => JSON.parse(m.data) as Change)
  t.deepEqual(mirror(changes), await snapshot(model), `the client's mirror equals the store after ${written} writes and 6 cuts (seed ${seed})`)
  const stamps = changes.map((c) => `${c.ts}/${c.source}`)
  t.equal(new Set(stamps).size, stamps.length, 'no update was sent twice')
  t.ok(client.messages.every((m) => m.id !== ''), 'every message has an id')
})

test('GET /events?since= resumes from a position, and Last-Event-ID wins over since', async (t) => {
  const model = await memoryModel(t)
  const base = await serveApi(t, model)
  await model.set('a', 1)
  const first = await (await fetch(`${base}/changes`)).json() as { changes: Change[], last: string }
  await model.set('b', 2)
  await model.set('a', 3)
  const client = new SseClient(`${base}/events?since=${first.last}`)
  t.teardown(() => { client.disconnect() })
  await client.connect()
  t.ok(await client.until(() => client.messages.length >= 2), 'what came after the position was replayed')
  t.deepEqual(client.messages.map((m) => (JSON.parse(m.data) as Change).key), ['b', 'a'], 'in order, without what the position already held')
  client.disconnect()
  await model.set('c', 4)
  // The URL still says since=first.last; the header is newer.
  await client.connect()
  t.ok(await client.until(() => client.messages.length >= 3), 'the reconnection got the write made while away')
  t.deepEqual(client.messages.map((m) => (JSON.parse(m.data) as Change).key), ['b', 'a', 'c'], 'and nothing twice')
  const fromStart = new SseClient(`${base}/events?since=0`)
  t.teardown(() => { fromStart.disconnect() })
  await fromStart.connect()
  t.ok(await fromStart.until(() => fromStart.messages.length >= 3), 'since=0 replays the whole store')
  t.deepEqual(mirror(fromStart.messages.map((m) => JSON.parse(m.data) as Change)), { a: 3, b: 2, c: 4 }, 'a key written twice shows once, with its latest value')
})

test('GET /changes pages through the store with since, limit, last and more', async (t) => {
  const model = await memoryModel(t)
  const base = await serveApi(t, model)
  for (let i = 0; i < 25; i++) await model.set(`k${String(i).padStart(2, '0')}`, i)
  await model.set('k00', 'again')
  const seen: Change[] = []
  let since = ''
  const pages: boolean[] = []
  for (;;) {
    const res = await fetch(`${base}/changes?limit=10&since=${since}`)
    t.equal(res.status, 200, 'a page')
    const page = await res.json() as { changes: Change[], last: string, more: boolean }
    seen.push(...page.changes)
    pages.push(page.more)
    since = page.last
    if (!page.more) break
  }
  t.deepEqual(pages, [true, true, false], 'three pages: 10, 10, then the last 5')
  t.equal(seen.length, 25, 'each key once (k00 overwritten: only its latest)')
  t.equal(mirror(seen).k00, 'again', 'with the latest value')
  await model.set('new', true)
  const after = await (await fetch(`${base}/changes?since=${since}`)).json() as { changes: Change[], more: boolean }
  t.deepEqual(after.changes.map((c) => c.key), ['new'], 'polling from the last position gets only the new write')
  for (const bad of ['!!!', 'AAAA', encodePosition(new Map()).slice(0, 0) + 'kQ']) {
    const res = await fetch(`${base}/changes?since=${bad}`)
    const body = await res.json() as { error: { code: string } }
    t.deepEqual([res.status, body.error.code], [400, 'SCUTTLEDB_BAD_POSITION'], `a position that does not decode (${bad}) is 400 SCUTTLEDB_BAD_POSITION`)
  }
  t.equal((await fetch(`${base}/changes?limit=0`)).status, 400, 'a bad limit is 400')
})

test('a resume does not send a replicated update that lost to one the client already has', async (t) => {
  const a = await memoryModel(t)
  const b = await memoryModel(t)
  const base = await serveApi(t, a)
  // b's write is older; it is b's latest, so a keeps it stored (pinned) after it loses.
  const [, bts, bsource] = await b.localUpdate(['k', 'older'])
  // Two clocks may give the same millisecond: write until a's stamp is the later one (each write's is higher).
  for (let [, ts, source] = await a.localUpdate(['k', 'newer']); compareStamps(ts, source, bts, bsource) <= 0;) [, ts, source] = await a.localUpdate(['k', 'newer'])
  const client = new SseClient(`${base}/events?since=0`)
  t.teardown(() => { client.disconnect() })
  await client.connect()
  t.ok(await client.until(() => client.messages.length === 1), 'the client has the newer value')
  t.equal((JSON.parse(client.messages[0].data) as Change).value, 'newer', 'which is a\'s')
  client.disconnect()
  const l = link(a, b)
  await l.synced
  t.equal(await a.get('k'), 'newer', 'the older write lost on a')
  let held = 0
  for await (const u of a.history()) if (u[2] === b.id) held++
  t.equal(held, 1, 'but a holds it (its source\'s latest)')
  await a.set('sentinel', 1)
  await client.connect()
  t.ok(await client.until(() => client.messages.some((m) => (JSON.parse(m.data) as Change).key === 'sentinel')), 'the reconnection reached live')
  t.deepEqual(mirror(client.messages.map((m) => JSON.parse(m.data) as Change)), { k: 'newer', sentinel: 1 }, 'the lost write was not replayed over the winner')
  l.a.destroy()
  l.b.destroy()
})

test('GET /events: writes that outgrow the resume buffer while storage is read are read again from storage', async (t) => {
  const model = await memoryModel(t)
  for (let i = 0; i < 5; i++) await model.set(`old${i}`, i)
  const history = model.history.bind(model)
  let reads = 0
  // The first read of storage lets 20 writes commit mid-way: deterministic, whatever the socket buffers hold.
  model.history = async function * (clock) {
    const first = reads++ === 0
    let yielded = 0
    for await (const u of history(clock)) {
      yield u
      if (first && ++yielded === 2) await Promise.all(Array.from({ length: 20 }, async (_, i) => { await model.set(`new${i}`, i) }))
    }
  }
  const base = await serveApi(t, model, { resumeBuffer: 3 })
  const client = new SseClient(`${base}/events?since=0`)
  t.teardown(() => { client.disconnect() })
  await client.connect()
  await model.set('sentinel', true)
  t.ok(await client.until(() => client.messages.some((m) => (JSON.parse(m.data) as Change).key === 'sentinel')), 'the stream reached live')
  t.ok(reads >= 2, 'storage was read again after the buffer overflowed')
  const changes = client.messages.map((m) => JSON.parse(m.data) as Change)
  t.deepEqual(mirror(changes), await snapshot(model), 'nothing was lost')
  t.equal(new Set(changes.map((c) => `${c.ts}/${c.source}`)).size, changes.length, 'nothing was sent twice')
})

test('positions encode a clock compactly and decode only what was encoded', async (t) => {
  const model = await memoryModel(t)
  const clock = new Map([['B', 2.5], ['A', 1]])
  const text = encodePosition(clock)
  t.ok(/^[A-Za-z0-9_-]+$/.test(text), 'base64url')
  t.deepEqual([...decodePosition(text, model)].sort(), [['A', 1], ['B', 2.5]], 'round-trips')
  t.equal(decodePosition('', model).size, 0, 'empty is the beginning')
  await model.set('x', 1)
  t.deepEqual(Object.fromEntries(decodePosition('now', model)), model.clock, 'now is the current clock')
})
