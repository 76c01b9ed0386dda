// The original scuttlebutt takes any key (Model#set(5, v)) and any event name
// (Events#emit(7, data)): JavaScript makes them object keys, '5' and '7', and it
// sends them as they were given, [[5, v], ts, source]. scuttledb refused such an
// update with SCUTTLEDB_INVALID_MESSAGE and closed the stream at it, on every
// reconnect: nothing the original held after it ever arrived. On a JSON stream
// an unsigned change's number, boolean or null key is now the original's string key.
import { createRequire } from 'node:module'
import { once } from 'node:events'
import test from 'tape'
import { Events, Model } from '../lib/index.js'
import { frame, memoryModel, until } from './helpers.js'
import { MemoryLevel } from 'memory-level'
import type { OriginalConstructor, OriginalEvents, OriginalModel, OriginalScuttlebutt } from './original.js'

const require = createRequire(import.meta.url)
const OModel = require('scuttlebutt/model.js') as OriginalConstructor<OriginalModel>
const OEvents = require('scuttlebutt/events.js') as OriginalConstructor<OriginalEvents>

/** Replicate a scuttledb instance (JSON) with an original in this process; resolves at scuttledb's sync. */
async function replicate (db: Model | Events, original: OriginalScuttlebutt): Promise<{ errors: unknown[], end: () => void }> {
  const errors: unknown[] = []
  const s = db.createStream({ wrapper: 'json' })
  const o = original.createStream()
  s.on('error', (err) => errors.push(err))
  s.pipe(o).pipe(s)
  const synced = once(s, 'sync')
  await Promise.race([synced, once(s, 'close')])
  return { errors, end: () => { s.destroy() } }
}

test('an original Model\'s number, boolean and null keys replicate as its string keys, and everything after them arrives', async (t) => {
  const db = await memoryModel(t)
  const o = new OModel()
  o.set('a', 1)
  o.set(5 as never, 'five')
  o.set(true as never, 'yes')
  o.set(null as never, 'nothing')
  o.set('b', 2)
  const link = await replicate(db, o)
  t.deepEqual(link.errors, [], 'no error on the stream')
  t.deepEqual(await db.toJSON(), { 5: 'five', a: 1, b: 2, null: 'nothing', true: 'yes' }, 'scuttledb holds every key, as the original names them')
  t.deepEqual(await db.toJSON(), o.toJSON(), 'the same as the original\'s toJSON()')
  t.equal(db.stats.rejected, 0, 'nothing rejected')
  // Relayed on, as string keys, to another original (and not echoed as new to the first).
  const other = new OModel()
  const relay = await replicate(db, other)
  t.ok(await until(() => Object.keys(other.toJSON()).length === 5), 'a second original receives all five keys')
  t.deepEqual(other.toJSON(), o.toJSON(), 'and holds what the first holds')
  o.set(5 as never, 'FIVE')
  t.ok(await until(async () => await db.get('5') === 'FIVE'), 'a live write of key 5 arrives as key "5"')
  link.end()
  relay.end()
})

test('an original Events\' number event names are heard by listeners of the string name', async (t) => {
  const ev = new Events({ db: new MemoryLevel() })
  await ev.open()
  t.teardown(async () => { await ev.close() })
  const heard: unknown[] = []
  ev.on('7', (data) => heard.push(data))
  const oe = new OEvents()
  oe.emit(7 as never, 'seven')
  oe.emit('after', 1)
  const link = await replicate(ev as never, oe)
  t.deepEqual(link.errors, [], 'no error on the stream')
  t.deepEqual(heard, ['seven'], 'heard under "7"')
  t.equal(ev.stats.committed, 2, 'and the event after it arrived')
  link.end()
})

test('only the original\'s wire is lenient: a number key on a msgpack stream still closes it with SCUTTLEDB_INVALID_MESSAGE', async (t) => {
  const db = await memoryModel(t)
  const s = db.createStream()
  const err = once(s, 'error')
  s.resume()
  s.write(frame({ id: 'peer', clock: {} }))
  s.write(frame([[5, 'five'], 1, 'peer']))
  const [e] = await err as [{ code: string }]
  t.equal(e.code, 'SCUTTLEDB_INVALID_MESSAGE', 'coded error')
  t.equal(await db.get('5'), undefined, 'nothing stored')
  await db.set(5 as never, 'x').then(() => t.fail('set(5) resolved'), (err) => { t.ok(err instanceof TypeError, 'a local set(5) is still a TypeError') })
})

// docs/protocol.md, "Newline JSON": what the original does with the name __proto__.
test('the original refuses a Model key __proto__ (its invalid event) and takes the keys after it', async (t) => {
  const db = await memoryModel(t)
  await db.set('a', 1)
  await db.set('__proto__', 'p')
  await db.set('b', 2)
  const o = new OModel()
  const invalid: string[] = []
  o.on('invalid', (err: Error) => invalid.push(err.message))
  const link = await replicate(db, o)
  t.teardown(link.end)
  t.deepEqual(link.errors, [], 'no error on the scuttledb side')
  t.ok(await until(() => o.get('b') === 2), 'the key after it arrives')
  t.equal(o.get('a'), 1, 'and the one before it')
  t.deepEqual(invalid, ['"__proto__" is illegal property name'], 'the original reports the __proto__ key invalid')
  t.notOk(Object.prototype.hasOwnProperty.call(o.store, '__proto__'), 'and does not store it')
  t.equal(await db.get('__proto__'), 'p', 'scuttledb keeps it')
})

test('the original Events throws on an update named __proto__ (in a stream, its data handler throws)', (t) => {
  const o = new OEvents() as unknown as { _update: (update: unknown[]) => unknown }
  t.throws(() => o._update([['__proto__', 1], Date.now(), 'a-source']), /push is not a function/, 'applying it throws')
  t.end()
})
