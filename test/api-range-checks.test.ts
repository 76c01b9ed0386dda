// Model#entries()/keys()/values() ranges, history() clocks and purge()/prune()
// on a closed instance are checked at the call. A range the store would coerce
// or ignore ({ gt: null } read as the key 'null', { reverse: 'yes' } read
// forwards, { prefix } read everything) silently gave another read; a NaN
// clock entry silently gave nothing; purge() after close() resolved 0.
import test from 'tape'
import { MemoryLevel } from 'memory-level'
import { Events, Model } from '../lib/index.js'

async function abc (): Promise<Model> {
  const model = new Model({ db: new MemoryLevel() })
  await model.open()
  await model.batch([{ type: 'put', key: 'a', value: 1 }, { type: 'put', key: 'b', value: 2 }, { type: 'put', key: 'c', value: 3 }])
  return model
}

async function keysOf (iterable: AsyncIterable<unknown>): Promise<string> {
  const out: unknown[] = []
  for await (const x of iterable) out.push(Array.isArray(x) ? x[0] : x)
  return out.join(',')
}

test('entries(), keys() and values() refuse a range they would not read as asked, with a TypeError at the call', async (t) => {
  const model = await abc()
  for (const [label, range] of [
    ['null', null],
    ['a string', 'a'],
    ['gt: null', { gt: null }],
    ['gt: 5', { gt: 5 }],
    ['lt: an array', { lt: ['b'] }],
    ['gte: a Buffer', { gte: Buffer.from('a') }],
    ['lte: a lone surrogate', { lte: '\ud800' }],
    ['reverse: "yes"', { reverse: 'yes' }],
    ['reverse: 1', { reverse: 1 }],
    ['limit: "2"', { limit: '2' }],
    ['limit: -1', { limit: -1 }],
    ['limit: 1.5', { limit: 1.5 }],
    ['limit: NaN', { limit: Number.NaN }],
    ['prefix (not an option)', { prefix: 'a' }],
    ['keys: false (not an option)', { keys: false }]
  ] as const) {
    for (const method of ['entries', 'keys', 'values'] as const) {
      t.throws(() => model[method](range as never), TypeError, `${method}(${label}) is a TypeError`)
    }
  }
  t.equal(await keysOf(model.entries({ gt: 'a', limit: Infinity })), 'b,c', 'gt and limit: Infinity')
  t.equal(await keysOf(model.keys({ lt: 'c', reverse: true, limit: 1 })), 'b', 'lt, reverse, limit')
  t.equal(await keysOf(model.entries({ gte: 'b', lte: 'b', reverse: false })), 'b', 'gte and lte')
  t.equal(await keysOf(model.entries({ limit: 0 })), '', 'limit: 0 reads nothing')
  t.equal(await keysOf(model.values({ gt: undefined })), '1,2,3', 'an undefined option is absent')
  await model.close()
})

test('history() refuses a NaN clock entry with a TypeError at the call', async (t) => {
  const model = await abc()
  t.throws(() => model.history({ [model.id]: Number.NaN }), TypeError, 'NaN is a TypeError')
  let n = 0
  for await (const _ of model.history({ [model.id]: -1 })) n++
  t.equal(n, 3, 'a number below every timestamp still means everything')
  await model.close()
})

test('purge() and prune() on a closed instance reject with SCUTTLEDB_NOT_OPEN, with or without a tombstoneTTL', async (t) => {
  for (const options of [{}, { tombstoneTTL: 1000 }]) {
    const model = new Model({ db: new MemoryLevel(), ...options })
    await model.open()
    await model.close()
    await model.purge().then(() => t.fail('purge resolved'), (err) => { t.equal(err.code, 'SCUTTLEDB_NOT_OPEN', `purge() after close (${JSON.stringify(options)})`) })
  }
  const fresh = new Model({ db: new MemoryLevel() })
  await fresh.purge().then(() => t.fail('purge resolved'), (err) => { t.equal(err.code, 'SCUTTLEDB_NOT_OPEN', 'purge() before open') })
  const events = new Events({ db: new MemoryLevel(), retention: { maxCount: 10 } })
  await events.open()
  await events.close()
  await events.prune().then(() => t.fail('prune resolved'), (err) => { t.equal(err.code, 'SCUTTLEDB_NOT_OPEN', 'prune() after close') })
  const plain = new Events({ db: new MemoryLevel() })
  await plain.open()
  await plain.close()
  await plain.prune().then(() => t.fail('prune resolved'), (err) => { t.equal(err.code, 'SCUTTLEDB_NOT_OPEN', 'prune() after close, without retention') })
})

test('close() right after open() lets open() resolve, also with a tombstoneTTL or a retention (it rejected SCUTTLEDB_NOT_OPEN)', async (t) => {
  for (const [label, make] of [
    ['Model', () => new Model({ db: new MemoryLevel() })],
    ['Model with tombstoneTTL', () => new Model({ db: new MemoryLevel(), tombstoneTTL: 1000 })],
    ['Events with retention', () => new Events({ db: new MemoryLevel(), retention: { maxCount: 5 } })]
  ] as const) {
    const x = make()
    const opening = x.open()
    const closing = x.close()
    await opening.then(() => t.pass(`${label}: open() resolves`), (err) => { t.fail(`${label}: open() rejected ${String(err.code)}`) })
    await closing
    t.equal(x.status, 'closed', `${label}: closed`)
  }
})
