// scuttledb (wrapper 'json') against the original scuttlebutt@5.6.15 and r-value@1.1.5 as
// real peers, over real TCP on 127.0.0.1. The original's wire rules are in
// ../shared/docs/original-protocol.md ("Wire format of the original").
import net from 'node:net'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import { pipeline } from 'node:stream'
import { isDeepStrictEqual } from 'node:util'
import test, { type Test } from 'tape'
import { Events, Model, Scuttlebutt, Value, type ReplicationStream, type StreamOptions, type Update } from '../lib/index.js'
import { allHistory, diskModel, sleep, tempDir, until } from './helpers.js'
import type { OriginalConstructor, OriginalEvents, OriginalModel, OriginalScuttlebutt, OriginalStream, OriginalValue } from './original.js'

const require = createRequire(import.meta.url)
const OModel = require('scuttlebutt/model.js') as OriginalConstructor<OriginalModel>
const OEvents = require('scuttlebutt/events.js') as OriginalConstructor<OriginalEvents>
const RValue = require('r-value') as OriginalConstructor<OriginalValue>

type Node = Model | Events | Value | OriginalScuttlebutt
interface End { stream: ReplicationStream | OriginalStream, socket: net.Socket, synced: Promise<void>, errors: unknown[] }
interface Connection { server: End, client: End }

/** Replicate `node` over `socket`: scuttledb with wrapper 'json', the original as its README says. */
function attach (node: Node, socket: net.Socket, opts: StreamOptions): End {
  const errors: unknown[] = []
  socket.on('error', (err) => errors.push(err))
  if (node instanceof Scuttlebutt) {
    const stream = node.createStream({ ...opts, wrapper: 'json' })
    pipeline(stream, socket, stream, (err) => { if (err != null) errors.push(err) })
    const synced = once(stream, 'sync').then(() => {})
    synced.catch(() => {})
    return { stream, socket, synced, errors }
  }
  const stream = node.createStream(opts)
  stream.on('error', (err: unknown) => errors.push(err ?? new Error('the original emitted error without an Error')))
  const synced = once(stream, 'sync').then(() => {})
  synced.catch(() => {})
  socket.pipe(stream).pipe(socket)
  return { stream, socket, synced, errors }
}

/** A TCP server on 127.0.0.1 (port 0) replicating `node` to every connection; torn down with the test. */
async function serve (t: Test, node: Node, opts: StreamOptions = {}): Promise<{ port: number, accepted: End[] }> {
  const accepted: End[] = []
  const server = net.createServer((socket) => { accepted.push(attach(node, socket, opts)) })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    for (const end of accepted) end.socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  return { port: (server.address() as net.AddressInfo).port, accepted }
}

async function dial (t: Test, node: Node, port: number, opts: StreamOptions = {}): Promise<End> {
  const socket = net.connect(port, '127.0.0.1')
  t.teardown(() => { socket.destroy() })
  const end = attach(node, socket, opts)
  await once(socket, 'connect')
  return end
}

async function connect (t: Test, server: Node, client: Node, so: StreamOptions = {}, co: StreamOptions = {}): Promise<Connection> {
  const { port, accepted } = await serve(t, server, so)
  const end = await dial(t, client, port, co)
  await until(() => accepted.length === 1)
  return { server: accepted[0], client: end }
}

const synced = async (...cs: Connection[]): Promise<unknown> => await Promise.all(cs.flatMap((c) => [c.server.synced, c.client.synced]))
const errorsOf = (...cs: Connection[]): unknown[] => cs.flatMap((c) => [...c.server.errors, ...c.client.errors])

async function put (node: Model | OriginalModel, key: string, value: unknown): Promise<void> {
  if (node instanceof Model) await node.set(key, value as never)
  else node.set(key, value)
}

async function state (node: Model | OriginalModel): Promise<{ data: Record<string, unknown>, clock: Record<string, number> }> {
  if (node instanceof Model) return { data: await node.toJSON(), clock: node.clock }
  return { data: node.toJSON(), clock: { ...node.sources } }
}

/** Wait until every node holds the same keys, values and clock; then assert it. */
async function converged (t: Test, nodes: Array<Model | OriginalModel>, msg: string): Promise<void> {
  const same = async (): Promise<boolean> => {
    const states = await Promise.all(nodes.map(state))
    return states.every((s) => isDeepStrictEqual(s, states[0]))
  }
  t.ok(await until(same), msg)
  const states = await Promise.all(nodes.map(state))
  t.deepEqual(states, states.map(() => states[0]), `${msg}: every node holds the same keys, values and clock`)
}

for (const dbServes of [false, true]) {
  const [server, client] = dbServes ? ['a scuttledb server', 'an original client'] : ['an original server', 'a scuttledb client']
  test(`${client} and ${server} exchange history both ways, then live updates both ways`, async (t) => {
    const db = await diskModel(t)
    const o = new OModel()
    for (const [k, v] of [['d1', 1], ['d2', { nested: [1, 2] }], ['d-gone', 'x']] as const) await db.set(k, v as never)
    await db.delete('d-gone')
    o.set('o1', 'one').set('o2', [true, null]).set('o-gone', 2).set('o-gone', null)
    const c = dbServes ? await connect(t, db, o) : await connect(t, o, db)
    await synced(c)
    const expected = { d1: 1, d2: { nested: [1, 2] }, o1: 'one', o2: [true, null] }
    t.deepEqual(await db.toJSON(), expected, 'scuttledb holds both histories at sync (deletes included)')
    t.deepEqual(o.toJSON(), expected, 'the original holds both histories at sync (deletes included)')
    await db.set('live-d', true)
    o.set('live-o', false)
    await converged(t, [db, o], 'live updates cross the socket both ways')
    t.equal(o.get('live-d'), true, 'the original sees the live scuttledb write')
    t.equal(db.stats.rejected, 0, 'scuttledb rejected nothing')
    t.deepEqual(errorsOf(c), [], 'no error on either stream or socket')
  })
}

const layouts = [
  { shape: 'line', kinds: ['scuttledb', 'original', 'scuttledb'] },
  { shape: 'line', kinds: ['original', 'scuttledb', 'original'] },
  { shape: 'triangle', kinds: ['scuttledb', 'original', 'original'] },
  { shape: 'triangle', kinds: ['original', 'scuttledb', 'scuttledb'] }
]
for (const { shape, kinds } of layouts) {
  test(`a ${shape} of ${kinds.join(', ')} over TCP converges: every node ends with the same keys and values`, async (t) => {
    const nodes = await Promise.all(kinds.map(async (k) => k === 'scuttledb' ? await diskModel(t) : new OModel()))
    const applied = nodes.map(() => 0)
    nodes.forEach((n, i) => { if (!(n instanceof Model)) n.on('update', () => { applied[i]++ }) })
    for (const [i, node] of nodes.entries()) for (let k = 0; k < 2; k++) await put(node, `h${i}-${k}`, { i, k })
    const edges = shape === 'line' ? [[0, 1], [1, 2]] : [[0, 1], [1, 2], [2, 0]]
    const links = await Promise.all(edges.map(async ([a, b]) => await connect(t, nodes[a], nodes[b])))
    await synced(...links)
    for (const [i, node] of nodes.entries()) await put(node, `live${i}`, `ü-${i}`)
    await converged(t, nodes, `the ${shape} converges`)
    t.equal(Object.keys((await state(nodes[0])).data).length, 9, 'every write is held')
    const counts = (): number[] => nodes.map((n, i) => n instanceof Model ? n.stats.committed : applied[i])
    const olds = (): number[] => nodes.map((n) => n instanceof Model ? n.stats.old : 0)
    // Echoes trail convergence: wait until nothing has arrived for 100 ms.
    let last = ''
    t.ok(await until(async () => { const was = last; last = JSON.stringify([counts(), olds()]); await sleep(100); return was === last }), 'traffic stops')
    t.deepEqual(counts(), [9, 9, 9], 'each node applied each write exactly once')
    for (const [i, n] of nodes.entries()) {
      if (!(n instanceof Model)) continue
      // Each write reaches a node at most once per link (an echo counts as that link's copy).
      const bound = edges.filter((e) => e.includes(i)).length * 9 - 6
      t.ok(n.stats.old <= bound, `scuttledb node ${i} dropped ${n.stats.old} copies as old (at most ${bound}: no echo storm)`)
    }
    await sleep(200)
    t.equal(JSON.stringify([counts(), olds()]), last, 'nothing more arrives anywhere once settled')
    t.deepEqual(errorsOf(...links), [], 'no error on any stream or socket')
  })
}

test('non-ASCII values and keys over 64 KiB arrive intact in both directions, in history and live', async (t) => {
  const big = 'ü☃𝄞'.repeat(10_000) // 90,000 bytes of UTF-8, so characters straddle TCP chunks
  const db = await diskModel(t)
  const o = new OModel()
  await db.set('from-db-ü☃𝄞', big)
  o.set('from-o-ü☃𝄞', big + 'o')
  const c = await connect(t, o, db)
  await synced(c)
  t.ok(o.get('from-db-ü☃𝄞') === big, 'history scuttledb -> original is intact')
  t.ok(await db.get('from-o-ü☃𝄞') === big + 'o', 'history original -> scuttledb is intact')
  await db.set('live-db', { text: big + 'd' })
  o.set('live-o', { text: big + 'l' })
  t.ok(await until(async () => isDeepStrictEqual(o.get('live-db'), { text: big + 'd' }) &&
    isDeepStrictEqual(await db.get('live-o'), { text: big + 'l' })), 'live updates are intact both ways')
  await converged(t, [db, o], 'both sides hold the same data')
  t.deepEqual(errorsOf(c), [], 'no error on either stream or socket')
})

test('a scuttledb node restarted from disk is not sent history again, and its new writes are accepted by the original', async (t) => {
  const dir = await tempDir(t)
  const o = new OModel()
  for (let k = 0; k < 3; k++) o.set(`o${k}`, k)
  const { port } = await serve(t, o)
  const first = new Model({ db: dir })
  await first.open()
  const end = await dial(t, first, port)
  await end.synced
  await first.set('d-before', 1)
  t.ok(await until(() => o.get('d-before') === 1), 'the original has the write made before the restart')
  const before = o.sources[first.id]
  end.socket.destroy()
  await first.close()

  o.set('o-new1', 'a').set('o-new2', 'b')
  // Restart with the wall clock stepped 5 s back: timestamps must still increase.
  const db = new Model({ db: dir, now: () => Date.now() - 5000 })
  await db.open()
  t.teardown(async () => { await db.close() })
  const again = await dial(t, db, port)
  await again.synced
  const stream = again.stream as ReplicationStream
  t.equal(stream.progress.received, 2, 'the original sends only the 2 updates made while scuttledb was down')
  t.equal(stream.progress.sent, 0, 'scuttledb sends nothing the original has')
  t.deepEqual({ committed: db.stats.committed, old: db.stats.old }, { committed: 2, old: 0 }, 'no old history arrives')
  await db.set('d-after', 'x')
  t.ok(await until(() => o.get('d-after') === 'x'), 'the original accepts the write made after the restart')
  const after = o.sources[db.id]
  t.ok(after > before, `the original's clock for scuttledb moved forward (${before} -> ${after})`)
  t.equal(after, db.clock[db.id], 'the original holds scuttledb\'s own latest timestamp')
  t.ok(Math.abs(after - Date.now()) < 60_000, 'the timestamp is in milliseconds since the epoch')
  t.deepEqual((await state(db)).data, o.toJSON(), 'both hold the same data')
  t.deepEqual(again.errors, [], 'no error on the stream or socket')
})

test('the original echoes every live update back once: scuttledb drops the echoes as old, without a loop', async (t) => {
  const db = await diskModel(t)
  const o = new OModel()
  const c = await connect(t, o, db)
  await synced(c)
  let originalOld = 0
  o.on('old_data', () => { originalOld++ })
  const base = { ...db.stats }
  for (let i = 0; i < 5; i++) await db.set(`e${i}`, i)
  t.ok(await until(() => db.stats.old === base.old + 5), 'each of the 5 live updates came back once and was dropped as old')
  o.set('from-o', 1)
  t.ok(await until(async () => await db.get('from-o') === 1), 'a live update of the original arrives')
  await sleep(200)
  t.equal(db.stats.old, base.old + 5, 'no echo of an echo: the count stays at 5')
  t.equal(db.stats.committed, base.committed + 6, 'each update committed once')
  t.equal(db.stats.rejected, 0, 'nothing rejected')
  t.equal(originalOld, 0, 'scuttledb never sends the original its own updates back')
  t.notOk((c.client.stream as ReplicationStream).destroyed, 'the stream stays open')
  await converged(t, [db, o], 'both sides hold the same data')
  t.deepEqual(errorsOf(c), [], 'no error on either stream or socket')
})

test('a read-only original stream that sends its history and SYNC twice does not break scuttledb', async (t) => {
  const o = new OModel()
  for (let k = 0; k < 3; k++) o.set(`o${k}`, k)
  const db = await diskModel(t)
  await db.set('mine', 1)
  const c = await connect(t, o, db, { writable: false })
  let syncs = 0
  ;(c.client.stream as NodeJS.EventEmitter).on('sync', () => { syncs++ })
  await c.client.synced
  t.ok(await until(() => db.stats.old === 3), 'the second copy of the history is dropped as old')
  o.set('live', 2)
  t.ok(await until(async () => await db.get('live') === 2), 'live updates still arrive after the second SYNC')
  await sleep(100)
  t.equal(syncs, 1, 'sync fired once')
  t.deepEqual({ ...db.stats, commits: 0 }, { committed: 5, old: 3, rejected: 0, commits: 0 }, 'each update committed once, nothing rejected')
  t.deepEqual(await db.toJSON(), { mine: 1, o0: 0, o1: 1, o2: 2, live: 2 }, 'scuttledb holds the original\'s data')
  t.equal(o.get('mine'), undefined, 'the read-only original took nothing')
  t.notOk((c.client.stream as ReplicationStream).destroyed, 'the stream stays open')
  t.deepEqual(errorsOf(c), [], 'no error on either stream or socket')
})

test('signed 4-element updates from a peer are kept and forwarded unchanged to an original, in history and live', async (t) => {
  const m = await diskModel(t)
  await m.set('text-ü☃', 'ü☃𝄞')
  const { port } = await serve(t, m)
  const raw = net.connect(port, '127.0.0.1')
  t.teardown(() => { raw.destroy() })
  const chunks: Buffer[] = []
  raw.on('data', (b: Buffer) => chunks.push(b))
  await once(raw, 'connect')
  const u1: Update = [['k1', 'v1'], Date.now(), 'SIGNER', 'sig-1']
  raw.write([{ id: 'SIGNER', clock: {} }, u1, 'SYNC'].map((v) => JSON.stringify(v) + '\n').join(''))
  t.ok(await until(async () => await m.get('k1') === 'v1'), 'scuttledb applies the signed update')
  t.deepEqual((await allHistory(m)).find((u) => (u as Update)[2] === 'SIGNER'), u1, 'its history keeps the signature')
  const o = new OModel()
  const end = await dial(t, o, port)
  await end.synced
  t.deepEqual(o.store.k1, u1, 'history forwards the 4-element update unchanged')
  const u2: Update = [['k2', { deep: [1] }], (u1[1]) + 1, 'SIGNER', 'sig-2']
  raw.write(JSON.stringify(u2) + '\n')
  t.ok(await until(() => o.store.k2 !== undefined), 'the live signed update reaches the original')
  t.deepEqual(o.store.k2, u2, 'live forwarding keeps it unchanged')

  const bytes = Buffer.concat(chunks)
  t.ok(bytes.every((b) => b < 0x80), 'everything scuttledb sent is ASCII')
  const lines = bytes.toString('latin1').split('\n')
  t.equal(lines.pop(), '', 'every message ends with a newline')
  t.notOk(lines.some((l) => l.trim() === ''), 'no blank lines')
  const values = lines.map((l) => JSON.parse(l) as unknown)
  const header = values[0] as { id: unknown, clock: unknown }
  t.ok(header.id === m.id && typeof header.clock === 'object', 'the header comes first, with a clock')
  t.equal(values.filter((v) => !Array.isArray(v) && typeof v === 'object').length, 1, 'exactly one header')
  t.deepEqual(values.slice(1).map((v) => Array.isArray(v) ? v[0] : v), [['text-ü☃', 'ü☃𝄞'], 'SYNC'],
    'then the history (escaped text decodes intact), then SYNC; the signed updates are not echoed back')
  t.deepEqual(end.errors, [], 'no error on the original\'s stream or socket')
})

test('Events and the original scuttlebutt/events hear each other\'s events, also those emitted before connecting', async (t) => {
  const ev = new Events({ db: await tempDir(t) })
  await ev.open()
  t.teardown(async () => { await ev.close() })
  const oe = new OEvents()
  const heard: { db: unknown[], original: unknown[] } = { db: [], original: [] }
  ev.on('ping', (data) => heard.db.push(data))
  oe.on('ping', (data: unknown) => heard.original.push(data))
  await ev.record('ping', { from: 'db', n: 1 })
  oe.emit('ping', { from: 'original', n: 1 })
  const c = await connect(t, oe, ev)
  await synced(c)
  await ev.record('ping', { from: 'db', n: 2 })
  oe.emit('ping', { from: 'original', n: 2 })
  t.ok(await until(() => heard.db.length === 4 && heard.original.length === 4), 'each side heard 4 events')
  const sorted = (list: unknown[]): string[] => list.map((x) => JSON.stringify(x)).sort()
  t.deepEqual(sorted(heard.db), sorted(heard.original), 'both heard the same events')
  t.equal(new Set(sorted(heard.db)).size, 4, 'each event was heard once')
  t.equal((await allHistory(ev)).length, 4, 'scuttledb recorded all 4 events')
  t.equal(oe.history({}).length, 4, 'the original recorded all 4 events')
  t.deepEqual(errorsOf(c), [], 'no error on either stream or socket')
})

test('Value and r-value converge to the same value, the last writer wins', async (t) => {
  const v = new Value({ db: await tempDir(t) })
  await v.open()
  t.teardown(async () => { await v.close() })
  const r = new RValue()
  const changes: unknown[] = []
  v.on('change', (value) => changes.push(value))
  await v.set('first')
  await sleep(5)
  r.set('second') // written later while disconnected: it wins on both
  const c = await connect(t, r, v)
  await synced(c)
  t.deepEqual([await v.get(), r.get()], ['second', 'second'], 'the later write wins on both at sync')
  await sleep(5)
  await v.set({ n: 3 })
  t.ok(await until(() => isDeepStrictEqual(r.get(), { n: 3 })), 'a later scuttledb write wins on r-value')
  await sleep(5)
  r.set([4])
  t.ok(await until(async () => isDeepStrictEqual(await v.get(), [4])), 'a later r-value write wins on scuttledb')
  t.deepEqual(changes, ['first', 'second', { n: 3 }, [4]], 'Value emitted change for local and remote writes')
  t.deepEqual(errorsOf(c), [], 'no error on either stream or socket')
})

test('master/replica over TCP: a scuttledb master (writable false, sendClock) feeds an original replica one way', async (t) => {
  const db = await diskModel(t)
  await db.set('m1', 1)
  await db.set('m2', 2)
  const o = new OModel()
  o.set('replica-own', 'x')
  let fromMaster = 0
  o.on('update', (_change: unknown, _ts: number, source: string) => { if (source === db.id) fromMaster++ })
  const c = await connect(t, db, o, { writable: false, sendClock: true }, { readable: false, sendClock: true })
  await synced(c)
  const master = c.server.stream as ReplicationStream
  t.equal(master.progress.sent, 2, 'the master sent its history once')
  await db.set('m3', 3)
  t.ok(await until(() => o.get('m3') === 3), 'live master updates reach the replica')
  o.set('replica-2', 'y')
  await sleep(100)
  t.equal(fromMaster, 3, 'the replica applied each master update once')
  t.deepEqual(await db.toJSON(), { m1: 1, m2: 2, m3: 3 }, 'nothing flowed from the replica to the master')
  t.deepEqual({ ...db.stats, commits: 0 }, { committed: 3, old: 0, rejected: 0, commits: 0 }, 'the master ignored the replica\'s output')
  c.client.socket.destroy()
  t.ok(await until(() => db.streams === 0), 'the master is back to zero open streams after the socket closes')
  t.ok(master.destroyed, 'the master\'s stream is destroyed')
})

test('master/replica over TCP: an original master (writable false, sendClock) feeds a scuttledb replica one way', async (t) => {
  const o = new OModel()
  o.set('m1', 1).set('m2', 2)
  const db = await diskModel(t)
  await db.set('replica-own', 'x')
  const c = await connect(t, o, db, { writable: false, sendClock: true }, { readable: false, sendClock: true })
  await synced(c)
  const replica = c.client.stream as ReplicationStream
  t.deepEqual(await db.toJSON(), { 'replica-own': 'x', m1: 1, m2: 2 }, 'the replica holds the master\'s history at sync')
  o.set('m3', 3)
  t.ok(await until(async () => await db.get('m3') === 3), 'live master updates reach the replica')
  await db.set('replica-2', 'y')
  await sleep(100)
  // The original master sends its whole history before reading the replica's clock, then again after it.
  t.ok(db.stats.old <= 2, `a repeated history from the original is dropped as old (${db.stats.old})`)
  t.equal(db.stats.committed, 5, 'the replica committed each update once')
  t.equal(replica.progress.sent, 0, 'the replica sent no update')
  t.deepEqual(o.toJSON(), { m1: 1, m2: 2, m3: 3 }, 'nothing flowed from the replica to the master')
  c.server.socket.destroy()
  t.ok(await until(() => db.streams === 0), 'the replica is back to zero open streams after the socket closes')
  t.ok(replica.destroyed, 'the replica\'s stream is destroyed')
})
