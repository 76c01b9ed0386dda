// A mixed network of scuttledb (wrapper 'json') and the real original scuttlebutt@5.6.15, over
// TCP on 127.0.0.1, where both write the same keys in the same millisecond without having seen
// each other's writes. The original keeps whichever of two equal timestamps arrived last, so one
// equal pair leaves the two different forever; scuttledb's timestamps must never equal one the
// original can make. Date.now is stubbed for the original (only around its synchronous writes)
// and scuttledb gets the same millisecond through its `now` option, so the same-millisecond
// writes happen every round, not by chance.
import net from 'node:net'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import { pipeline } from 'node:stream'
import { isDeepStrictEqual } from 'node:util'
import test, { type Test } from 'tape'
import { Model, seededRandom, type Update } from '../lib/index.js'
import { allHistory, diskModel, until } from './helpers.js'
import type { OriginalConstructor, OriginalModel } from './original.js'

const require = createRequire(import.meta.url)
const OModel = require('scuttlebutt/model.js') as OriginalConstructor<OriginalModel>

const ROUNDS = 40
const KEYS = ['k0', 'k1', 'k2']

/** Run `write` with Date.now reading `ms` (the original's timestamps come from Date.now). */
function at (ms: number, write: () => void): void {
  const real = Date.now
  Date.now = () => ms
  try {
    write()
  } finally {
    Date.now = real
  }
}

/** Connect a scuttledb node and an original over TCP; resolves once both streams emitted `sync`. */
async function connect (t: Test, db: Model, o: OriginalModel, dbServes: boolean): Promise<unknown[]> {
  const errors: unknown[] = []
  const attach = (socket: net.Socket, side: 'db' | 'o'): Promise<unknown> => {
    socket.on('error', (err) => errors.push(err))
    if (side === 'db') {
      const stream = db.createStream({ wrapper: 'json' })
      pipeline(stream, socket, stream, (err) => { if (err != null) errors.push(err) })
      return once(stream, 'sync')
    }
    const stream = o.createStream()
    stream.on('error', (err: unknown) => errors.push(err ?? new Error('the original emitted error without an Error')))
    socket.pipe(stream).pipe(socket)
    return once(stream, 'sync')
  }
  const accepted: Array<Promise<unknown>> = []
  const sockets: net.Socket[] = []
  const server = net.createServer((socket) => { sockets.push(socket); accepted.push(attach(socket, dbServes ? 'db' : 'o')) })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
  sockets.push(socket)
  t.teardown(async () => {
    for (const s of sockets) s.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  const dialed = attach(socket, dbServes ? 'o' : 'db')
  t.ok(await until(() => accepted.length === 1), 'the server accepted the connection')
  await Promise.all([dialed, accepted[0]])
  return errors
}

/** Keys, values, the clock and each key's winning [ts, source]: everything that must converge. */
async function state (node: Model | OriginalModel): Promise<unknown> {
  if (node instanceof Model) {
    const winners: Record<string, [number, string]> = {}
    for (const [[key], ts, source] of await allHistory(node) as Array<Update<[string, unknown]>>) {
      const held = winners[key]
      if (held === undefined || ts > held[0] || (ts === held[0] && source > held[1])) winners[key] = [ts, source]
    }
    return { data: await node.toJSON(), clock: node.clock, winners }
  }
  const winners = Object.fromEntries(Object.entries(node.store).map(([key, u]) => [key, [u[1], u[2]]]))
  return { data: node.toJSON(), clock: { ...node.sources }, winners }
}

/**
 * Both sides write the same key sequence in millisecond `ms`, interleaved at random, all in
 * one synchronous stretch, so that neither sees the other's writes first. Resolves once
 * scuttledb committed its own.
 */
async function writeConcurrently (db: Model, o: OriginalModel, ms: number, random: () => number, tag: string): Promise<void> {
  const length = random() < 0.1 ? 1200 : 1 + Math.floor(random() * 12) // 1200 spills past one millisecond's fractions
  const sequence = Array.from({ length }, () => KEYS[Math.floor(random() * KEYS.length)])
  const committed: Array<Promise<void>> = []
  let d = 0
  let n = 0
  while (d < length || n < length) {
    if (n >= length || (d < length && random() < 0.5)) { committed.push(db.set(sequence[d], `db-${tag}-${d}`)); d++ } else {
      const i = n++
      at(ms, () => { o.set(sequence[i], `o-${tag}-${i}`) })
    }
  }
  await Promise.all(committed)
}

for (let round = 0; round < ROUNDS; round++) {
  const seed = 7000 + round
  test(`a scuttledb node and an original writing the same keys in the same millisecond converge (round ${round}, seed ${seed})`, async (t) => {
    const random = seededRandom(seed)
    const ms = 1795501157020 + round * 1000
    // Both orders of the ids: the original keeps the later arrival, scuttledb the greater source.
    const db = await diskModel(t, { id: 'db', now: () => ms })
    const o = new OModel(round % 2 === 0 ? 'a-original' : 'z-original')
    // The original moves its own clock entry for a local write that already lost to a newer
    // value it holds, and never sends that write (index.js _update), so after live writes only
    // keys, values and winners can be compared, not the original's own clock entry.
    const held = async (node: Model | OriginalModel): Promise<unknown> => {
      const { data, winners } = await state(node) as { data: unknown, winners: unknown }
      return { data, winners }
    }
    const same = async (): Promise<boolean> => isDeepStrictEqual(await held(db), await held(o))

    await writeConcurrently(db, o, ms, random, 'apart')
    const errors = await connect(t, db, o, random() < 0.5)
    t.deepEqual(await state(db), await state(o), `seed ${seed}: after the first sync both hold the same keys, values, clock and winners`)

    // Again while connected: written in one synchronous stretch, neither has seen the other's writes,
    // and scuttledb's clock has observed the original's timestamps of this millisecond.
    await writeConcurrently(db, o, ms, random, 'live')
    t.ok(await until(same, 2000), `seed ${seed}: after live concurrent writes in the same millisecond both converge`)
    t.deepEqual(await held(db), await held(o), `seed ${seed}: both hold the same keys, values and winners`)
    t.deepEqual(errors, [], `seed ${seed}: no error on either stream or socket`)
  })
}

test('two scuttledb nodes writing one key in the same millisecond, joined through an original, converge', async (t) => {
  const ms = 1795501157020
  // Ids whose first timestamps in a millisecond differ (each node starts at its own place in the millisecond).
  const firsts = new Map<number, Model>()
  for (let i = 0; firsts.size < 2 && i < 8; i++) {
    const node = await diskModel(t, { id: `node-${i}`, now: () => ms })
    await node.set('k', node.id)
    const ts = (await allHistory(node) as Update[])[0][1]
    if (!firsts.has(ts)) firsts.set(ts, node)
  }
  t.equal(firsts.size, 2, 'two nodes with different first timestamps in the same millisecond')
  // The greater source first: an original keeps the later of equal timestamps, scuttledb the greater source.
  const [a, b] = [...firsts.values()].sort((x, y) => (x.id > y.id ? -1 : 1))
  const o = new OModel('original')
  const errorsA = await connect(t, a, o, true)
  const errorsB = await connect(t, b, o, false)
  const same = async (): Promise<boolean> => {
    const [sa, sb, so] = await Promise.all([state(a), state(b), state(o)])
    return isDeepStrictEqual(sa, so) && isDeepStrictEqual(sb, so)
  }
  t.ok(await until(same, 3000), 'all three hold the same keys, values, clock and winners')
  t.deepEqual([...errorsA, ...errorsB], [], 'no error on any stream or socket')
})
