// Red-team round 11i. The original's Model#set takes any key and its Events#emit any
// event name: JavaScript makes an array or object key the property key String(key)
// (['x', 'y'] is 'x,y', {} is '[object Object]'), and the original sends the key as
// it was given, [[['x', 'y'], v], ts, source]. scuttledb read only a number, boolean
// or null key as the original's string key; an array or object key was
// SCUTTLEDB_INVALID_MESSAGE and closed the stream at it, on every reconnect, so
// nothing the original held after it (in (ts, source) order) ever arrived.
import { createRequire } from 'node:module'
import { once } from 'node:events'
import test from 'tape'
import { Events, type Model } from '../lib/index.js'
import { diskModel, tempDir, until } from './helpers.js'
import type { OriginalConstructor, OriginalEvents, OriginalModel, OriginalScuttlebutt } from './original.js'

const require = createRequire(import.meta.url)
const OModel = require('scuttlebutt/model.js') as OriginalConstructor<OriginalModel>
const OEvents = require('scuttlebutt/events.js') as OriginalConstructor<OriginalEvents>

/** Replicate a scuttledb instance (JSON) with an original in this process; resolves at sync or close. */
async function replicate (db: Model | Events, original: OriginalScuttlebutt): Promise<{ errors: Array<{ code?: string }>, end: () => void }> {
  const errors: Array<{ code?: string }> = []
  const s = db.createStream({ wrapper: 'json' })
  const o = original.createStream()
  s.on('error', (err) => errors.push(err as { code?: string }))
  s.pipe(o).pipe(s)
  await new Promise<void>((resolve) => { s.once('sync', resolve); s.once('close', resolve) })
  return { errors, end: () => { s.destroy() } }
}

test('an original Model\'s array and object keys replicate as its string keys, and the keys after them arrive', async (t) => {
  const db = await diskModel(t)
  const o = new OModel()
  o.set('a', 1)
  o.set(['x', 'y'] as never, 'array')
  o.set({ n: 1 } as never, 'object')
  o.set([[1, 2], null, 3] as never, 'nested')
  o.set('b', 2)
  t.deepEqual(Object.keys(o.toJSON()).sort(), ['1,2,,3', '[object Object]', 'a', 'b', 'x,y'], 'the original holds them as these string keys')
  const link = await replicate(db, o)
  t.teardown(link.end)
  t.deepEqual(link.errors.map((e) => e.code), [], 'no error on the stream')
  t.equal(db.stats.rejected, 0, 'nothing rejected')
  t.deepEqual(await db.toJSON(), o.toJSON(), 'scuttledb holds what the original holds')
  // Relayed on to a second original as string keys: it holds the same.
  const other = new OModel()
  const relay = await replicate(db, other)
  t.teardown(relay.end)
  t.ok(await until(() => Object.keys(other.toJSON()).length === 5), 'a second original receives all five keys')
  t.deepEqual(other.toJSON(), o.toJSON(), 'and holds what the first holds')
})

test('an original Events\' array event name is heard by scuttledb listeners of its string name', async (t) => {
  const ev = new Events({ db: await tempDir(t) })
  await ev.open()
  t.teardown(async () => { await ev.close() })
  const heard: unknown[] = []
  ev.on('e,f', (data) => heard.push(data))
  const oe = new OEvents()
  const originalHeard: unknown[] = []
  oe.on('e,f', (data: unknown) => originalHeard.push(data))
  oe.emit(['e', 'f'] as never, 'array name')
  oe.emit('after', 1)
  t.deepEqual(originalHeard, ['array name'], 'the original\'s own listeners of "e,f" hear it')
  const link = await replicate(ev, oe)
  t.teardown(link.end)
  t.deepEqual(link.errors.map((e) => e.code), [], 'no error on the stream')
  t.ok(await until(() => ev.stats.committed === 2), 'both events arrive')
  t.deepEqual(heard, ['array name'], 'heard under "e,f"')
})

test('a key the original cannot make a property key either (own toString) is still refused with SCUTTLEDB_INVALID_MESSAGE', async (t) => {
  const db = await diskModel(t)
  const s = db.createStream({ wrapper: 'json' })
  const err = once(s, 'error')
  s.resume()
  s.write('{"id":"peer","clock":{}}\n[[{"toString":1},"v"],5,"peer"]\n')
  const [e] = await err as [{ code: string }]
  t.equal(e.code, 'SCUTTLEDB_INVALID_MESSAGE', 'coded error')
  t.deepEqual(await db.toJSON(), {}, 'nothing stored')
})
