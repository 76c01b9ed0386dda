// The options a Collection opens its documents with: per-document ones from
// `documentOptions` (Model's tombstoneTTL, a type's own), the collection-wide
// ones, and the TypeErrors for a caller's mistakes (at construction, or at open
// for what `documentOptions` returns).
import test, { type Test } from 'tape'
import {
  Collection, Model, Value, createSecurity,
  type CollectionOptions, type DocumentOptionsResolver, type ScuttlebuttOptions, type Security
} from '../lib/index.js'
import { rejects, tempDir, until } from './helpers.js'

async function diskCollection (t: Test, options: Partial<CollectionOptions> = {}): Promise<Collection> {
  const c = new Collection({ db: await tempDir(t), ...options })
  await c.open()
  t.teardown(async () => { await c.close() })
  return c
}

async function historyLength (c: Collection, name: string): Promise<number> {
  let n = 0
  await c.use(name, async (doc) => { for await (const _ of doc.history()) n++ })
  return n
}

/** A data type with an option of its own. */
class Greeter extends Value<string> {
  readonly greeting: string
  constructor (options: ScuttlebuttOptions & { greeting?: string }) {
    super(options)
    this.greeting = options.greeting ?? 'hello'
  }
}

test('documentOptions: tombstoneTTL reaches the Models it names: their expired deletes are forgotten, at purge() and at every reopen, and the others keep theirs', async (t) => {
  let wall = 1_700_000_000_000
  const asked: string[] = []
  const c = await diskCollection(t, {
    now: () => wall,
    maxOpen: 1,
    documentOptions: (name, type) => {
      asked.push(`${name}:${type}`)
      return name.startsWith('ttl/') ? { tombstoneTTL: 1000 } : undefined
    }
  })
  for (const name of ['ttl/a', 'ttl/b', 'keep']) {
    await c.use(name, async (doc: Model) => {
      await doc.set('k', 'v')
      await doc.set('k', null)
      // A source's latest update backs its clock entry and is never forgotten: write after the delete.
      await doc.set('other', 1)
    }, Model)
  }
  t.deepEqual(asked, ['ttl/a:Model', 'ttl/b:Model', 'keep:Model'], 'asked once per open, with the name and the type')
  wall += 5000
  t.equal(await c.use('ttl/a', async (doc: Model) => await doc.purge(), Model), 0, 'ttl/a: its expired delete was already forgotten when it reopened (maxOpen 1 had closed it)')
  t.equal(await historyLength(c, 'ttl/a'), 1, 'ttl/a: only the later write is left in the history')
  await c.use('ttl/b', async (doc: Model) => {
    t.equal(await doc.get('k'), undefined, 'ttl/b: the key stays deleted')
    t.equal(await doc.purge(), 0, 'ttl/b: forgotten at open too')
  }, Model)
  t.equal(await c.use('keep', async (doc: Model) => await doc.purge(), Model), 0, 'keep: purge() forgets nothing without a tombstoneTTL')
  t.equal(await historyLength(c, 'keep'), 2, 'keep: its delete is still in the history')
})

test('documentOptions: tombstoneTTL is applied to an open document: purge() forgets what expired while it stayed open', async (t) => {
  let wall = 1_700_000_000_000
  const c = await diskCollection(t, { now: () => wall, documentOptions: () => ({ tombstoneTTL: 1000 }) })
  const doc = await c.doc('x', Model)
  await doc.set('k', 'v')
  await doc.set('k', null)
  await doc.set('other', 1)
  t.equal(await doc.purge(), 0, 'not yet expired')
  wall += 5000
  t.equal(await doc.purge(), 1, 'forgotten once older than the TTL')
  t.equal(await historyLength(c, 'x'), 1, 'gone from the history (the later write stays)')
})

test('documentOptions: a type of the user\'s own gets its own options, and the collection-wide ones come first', async (t) => {
  const c = await diskCollection(t, {
    types: { Greeter },
    maxBatch: 7,
    documentOptions: (name, type) => type === 'Greeter' ? { greeting: `hi ${name}` } : name === 'single' ? { maxBatch: 1 } : undefined
  })
  const greeter = await c.doc('g', Greeter)
  t.equal(greeter.greeting, 'hi g', 'the option reached the constructor')
  await greeter.set('x')
  t.equal(await greeter.get(), 'x', 'and the document works')
  // maxBatch bounds the updates of one commit: 20 writes queued at once take at least ceil(20 / maxBatch) commits.
  const [batched, single] = [await c.doc('batched', Model), await c.doc('single', Model)]
  await Promise.all(Array.from({ length: 20 }, async (_, i) => { await Promise.all([batched.set(`k${i}`, i), single.set(`k${i}`, i)]) }))
  t.ok(batched.stats.commits >= 3, `the collection's maxBatch 7 reached a document the resolver gives nothing (${batched.stats.commits} commits)`)
  t.equal(single.stats.commits, 20, 'the resolver\'s maxBatch 1 overrides it for its document')
})

test('collection options: a caller\'s mistake is a TypeError at construction', async (t) => {
  const db = await tempDir(t)
  const ok = { sign: () => null, verify: () => true }
  const bad: Array<[string, Partial<CollectionOptions>]> = [
    ['security without verify()', { security: { sign: () => null } as unknown as Security }],
    ['security that is not an object', { security: 'yes' as unknown as Security }],
    ['security with a verifyBatch that is not a function', { security: { ...ok, verifyBatch: 1 } as unknown as Security }],
    ['security with a createId that is not a function', { security: { ...ok, createId: 'id' } as unknown as Security }],
    ['writers that is a number', { writers: 5 as unknown as string[] }],
    ['writers that is a string (an iterable of characters)', { writers: 'alice' as unknown as string[] }],
    ['writers holding a non-id', { writers: ['alice', 7] as unknown as string[] }],
    ['writers holding an empty id', { writers: [''] }],
    ['maxBatch 0', { maxBatch: 0 }],
    ['maxBatch 1.5', { maxBatch: 1.5 }],
    ['documentOptions that is not a function', { documentOptions: { tombstoneTTL: 1 } as unknown as DocumentOptionsResolver }],
    ['sync that is not a boolean', { sync: 'yes' as unknown as boolean }],
    ['a negative maxClockSkew', { maxClockSkew: -1 }],
    ['now that is not a function', { now: 5 as unknown as () => number }]
  ]
  for (const [what, options] of bad) t.throws(() => new Collection({ db, ...options }), TypeError, what)
  const generated = (function * () { yield 'alice' })()
  const fine = new Collection({ db, security: createSecurity(), writers: generated, maxBatch: 64, sync: false, maxClockSkew: 0, now: Date.now, documentOptions: () => undefined })
  t.equal(fine.status, 'new', 'valid options construct (a generator of writers is read once)')
})

test('documentOptions: a result setting db or id, or not an object, rejects the open with a TypeError and leaves the document openable', async (t) => {
  let answer: unknown
  const c = await diskCollection(t, { documentOptions: () => answer as ReturnType<DocumentOptionsResolver> })
  for (const [what, value] of [['db', { db: 'elsewhere' }], ['id', { id: 'someone' }], ['db set to undefined', { db: undefined }], ['a number', 5], ['an array', []]] as const) {
    answer = value
    await rejects(t, c.doc('x', Model), TypeError, `a result with ${what} is a TypeError`)
    t.deepEqual(c.opened, [], 'nothing was left open')
  }
  answer = { tombstoneTTL: -1 }
  await rejects(t, c.doc('x', Model), TypeError, 'an option the type refuses is the type\'s TypeError')
  // It was being created: a failed creation leaves no record (not one marked open, with an unknown clock).
  t.deepEqual([c._catalog.get('x'), c._clockOf('x'), c.names()], [undefined, new Map(), []], 'and the document it was creating left no record')
  const thrown = new RangeError('no options for you')
  answer = undefined
  const throwing = await diskCollection(t, { documentOptions: () => { throw thrown } })
  try {
    await throwing.doc('x', Model)
    t.fail('opened')
  } catch (err) {
    t.equal(err, thrown, 'a resolver that throws rejects the open with what it threw')
  }
  answer = { tombstoneTTL: 60_000 }
  const doc = await c.doc('x', Model)
  await doc.set('k', 1)
  t.equal(await doc.get('k'), 1, 'once the resolver answers well, the same document opens and works')
  // A document that exists keeps its record through a failed open: not marked open, its clock known.
  await doc.close()
  t.ok(await until(() => c.opened.length === 0 && c._clockOf('x')?.size === 1), 'it closed, its clock recorded')
  answer = { tombstoneTTL: -1 }
  await rejects(t, c.doc('x', Model), TypeError, 'a failed open of an existing document')
  t.deepEqual([c._catalog.get('x')?.dirty, c._clockOf('x')?.size, c.names()], [false, 1, ['x']], 'keeps its record as it was')
  // @ts-expect-error a result setting db does not compile either
  const typed: DocumentOptionsResolver = () => ({ db: 'elsewhere' })
  t.equal(typeof typed, 'function', '(checked by the compiler)')
})
