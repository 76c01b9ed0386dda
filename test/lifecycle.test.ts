import test from 'tape'
import { MemoryLevel } from 'memory-level'
import { Packr } from 'msgpackr'
import { writeHeapSnapshot } from 'node:v8'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Model, codes, type ScuttledbError } from '../lib/index.js'
import { memoryModel, rejects, tempDir, captureUncaught } from './helpers.js'

test('constructor options are validated with TypeErrors', (t) => {
  const db = new MemoryLevel()
  t.throws(() => new Model(null as never), TypeError, 'options object')
  t.throws(() => new Model({ db: 42 as never }), TypeError, 'db')
  t.throws(() => new Model({ db, id: '' }), TypeError, 'empty id')
  t.throws(() => new Model({ db, id: 'a\x00b' }), TypeError, 'NUL in id')
  t.throws(() => new Model({ db, maxClockSkew: -1 }), TypeError, 'maxClockSkew')
  t.throws(() => new Model({ db, maxBatch: 0 }), TypeError, 'maxBatch')
  t.throws(() => new Model({ db, security: {} as never }), TypeError, 'security needs sign and verify')
  t.end()
})

test('calls that need storage fail with SCUTTLEDB_NOT_OPEN before open and after close', async (t) => {
  const model = new Model({ db: new MemoryLevel() })
  t.equal(model.status, 'new', 'new')
  t.throws(() => model.id, (err: ScuttledbError) => err.code === codes.NOT_OPEN, 'no id yet')
  t.throws(() => model.createStream(), (err: ScuttledbError) => err.code === codes.NOT_OPEN, 'no stream before open')
  try {
    await model.set('k', 1)
    t.fail('set before open resolved')
  } catch (err) {
    t.equal((err as ScuttledbError).code, codes.NOT_OPEN, 'set before open')
  }
  await model.open()
  t.equal(model.status, 'open', 'open')
  await model.close()
  t.equal(model.status, 'closed', 'closed')
  try {
    await model.open()
    t.fail('reopened a closed instance')
  } catch (err) {
    t.equal((err as ScuttledbError).code, codes.NOT_OPEN, 'a closed instance cannot reopen')
  }
})

test('a database written by a newer format is refused', async (t) => {
  const db = new MemoryLevel()
  const first = new Model({ db })
  await first.open()
  await first.close()
  const meta = db.sublevel<string, Uint8Array>('meta', { valueEncoding: 'view' })
  await meta.put('format', new Packr({ useRecords: false }).pack(99))
  const again = new Model({ db })
  try {
    await again.open()
    t.fail('opened')
  } catch (err) {
    t.equal((err as ScuttledbError).code, codes.UNSUPPORTED_FORMAT, 'coded refusal')
  }
  t.equal(again.status, 'closed', 'the failed instance is closed')
})

test('Model argument errors are TypeErrors', async (t) => {
  const model = await memoryModel(t)
  await rejects(t, model.set(1 as never, 'v'), TypeError, 'a key must be a string')
  await rejects(t, model.set('k', undefined as never), TypeError, 'a value must not be undefined')
  await rejects(t, model.get(null as never), TypeError, 'get needs a string key')
  await rejects(t, model.localUpdate(['k']), TypeError, 'a malformed change is refused locally')
  t.throws(() => model.createStream({ wrapper: 'xml' as never }), TypeError, 'unknown wrapper')
  t.throws(() => model.createStream({ wrapper: null as never }), TypeError, 'a null wrapper is refused, not taken for the default')
  t.throws(() => model.createStream({ maxFrameBytes: 0 }), TypeError, 'bad maxFrameBytes')
})

test('a throwing listener does not break the commit pipeline', async (t) => {
  const model = await memoryModel(t)
  const uncaught = captureUncaught(t)
  model.once('change', () => { throw new Error('listener bug') })
  await model.set('a', 1)
  await model.set('b', 2)
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(await model.get('b'), 2, 'later writes still commit')
  t.equal(uncaught.length, 1, 'the listener error surfaced as an uncaught exception')
})

test('committed transactions are released while the pipeline stays busy (no chain of overlays)', async (t) => {
  const model = new Model({ db: new MemoryLevel(), maxBatch: 10 })
  await model.open()
  t.teardown(async () => { await model.close() })
  const dir = await tempDir(t)
  let alive = -1
  // Count live Transaction objects in a heap snapshot taken in the middle of 200 back-to-back commits.
  model.on('update', (change) => {
    if ((change as [string, number])[1] !== 1500) return
    const file = writeHeapSnapshot(join(dir, 'heap.heapsnapshot'))
    const snapshot = JSON.parse(readFileSync(file, 'utf8')) as { snapshot: { meta: { node_fields: string[] } }, nodes: number[], strings: string[] }
    const width = snapshot.snapshot.meta.node_fields.length
    const name = snapshot.strings.indexOf('Transaction')
    alive = 0
    for (let i = 1; i < snapshot.nodes.length; i += width) if (snapshot.nodes[i] === name) alive++
  })
  await Promise.all(Array.from({ length: 2000 }, async (_, i) => { await model.set('k' + (i % 50), i) }))
  t.ok(alive >= 1 && alive < 20, `a bounded number of transactions is alive after 150 commits (${alive})`)
})

test('Model.entries(), keys() and values() take a key range and a limit; tombstones never count', async (t) => {
  const model = await memoryModel(t)
  for (const k of ['a', 'b', 'c', 'd', 'e']) await model.set(k, k.toUpperCase())
  await model.delete('c')
  const keys = async (range: Parameters<typeof model.keys>[0]): Promise<string[]> => {
    const out: string[] = []
    for await (const k of model.keys(range)) out.push(k)
    return out
  }
  t.deepEqual(await keys({}), ['a', 'b', 'd', 'e'], 'all, without the deleted key')
  t.deepEqual(await keys({ gt: 'a', lte: 'd' }), ['b', 'd'], 'gt and lte')
  t.deepEqual(await keys({ gte: 'b', lt: 'e', limit: 2 }), ['b', 'd'], 'a limit counts live keys only')
  t.deepEqual(await keys({ limit: 0 }), [], 'limit 0')
  const values: unknown[] = []
  for await (const v of model.values({ gt: 'd' })) values.push(v)
  t.deepEqual(values, ['E'], 'values() with a range')
})
