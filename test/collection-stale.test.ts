import test from 'tape'
import { once } from 'node:events'
import { pipeline } from 'node:stream'
import { join } from 'node:path'
import { Collection, Model, type ScuttledbError } from '../lib/index.js'
import { tempDir } from './helpers.js'

// A document that forgot a delete (tombstoneTTL) must not take updates from a peer
// that never saw that delete: they may bring back the value it removed. A single
// document's stream refuses such a peer (SCUTTLEDB_STALE_PEER); a collection refuses
// that document's updates from it, and the other documents go on.

test('a collection refuses a document\'s updates from a peer behind a delete the document forgot; other documents sync', async (t) => {
  let wall = 1_800_000_000_000
  const now = (): number => wall
  const dir = await tempDir(t)
  const x = new Collection({ db: join(dir, 'x'), id: 'X', now, maxClockSkew: Infinity, documentOptions: () => ({ tombstoneTTL: 1000 }) })
  const y = new Collection({ db: join(dir, 'y'), id: 'Y', now, maxClockSkew: Infinity })
  await x.open()
  await y.open()
  t.teardown(async () => { await x.close(); await y.close() })
  // y writes k while apart; x deletes k later without having seen y's write, then forgets the delete.
  await (await y.doc('doc', Model)).set('k', 'stale value')
  await (await y.doc('other', Model)).set('o', 'fine')
  wall += 10
  const xd = await x.doc('doc', Model)
  await xd.set('k', null)
  await xd.set('kept', 1)
  wall += 5000
  t.equal(await xd.purge(), 1, 'x forgot its delete of k')
  const errors: ScuttledbError[] = []
  x.on('documentError', (name, err) => { errors.push(err); t.equal(name, 'doc', 'the refused document is named') })
  const sx = x.createStream()
  const sy = y.createStream()
  const closed = new Promise<void>((resolve) => { pipeline(sx, sy, sx, () => { resolve() }) })
  await Promise.all([once(sx, 'syncReceived'), once(sy, 'syncReceived')])
  t.deepEqual(errors.map((err) => err.code), ['SCUTTLEDB_STALE_PEER'], 'reported once, coded')
  t.equal(await xd.get('k'), undefined, 'the deleted value did not come back')
  t.equal(await (await x.doc('other', Model)).get('o'), 'fine', 'another document from the same peer synced')
  t.notOk(sx.destroyed, 'the stream stays open')
  sx.destroy()
  await closed
})

test('a document that fails to open for a peer\'s updates is reported (SCUTTLEDB_DOCUMENT_FAILED, with the cause) and skipped; the stream and the other documents go on', async (t) => {
  const dir = await tempDir(t)
  const x = new Collection({ db: join(dir, 'x'), documentOptions: (name) => { if (name === 'bad') throw new Error('no options for bad'); return undefined } })
  const y = new Collection({ db: join(dir, 'y') })
  await x.open()
  await y.open()
  t.teardown(async () => { await x.close(); await y.close() })
  await (await y.doc('bad', Model)).set('k', 1)
  await (await y.doc('good', Model)).set('k', 2)
  const errors: Array<[string, ScuttledbError]> = []
  x.on('documentError', (name, err) => { errors.push([name, err]) })
  const sx = x.createStream()
  const sy = y.createStream()
  const closed = new Promise<void>((resolve) => { pipeline(sx, sy, sx, () => { resolve() }) })
  await Promise.all([once(sx, 'syncReceived'), once(sy, 'syncReceived')])
  t.deepEqual(errors.map(([name, err]) => [name, err.code, (err.cause as Error | undefined)?.message]), [['bad', 'SCUTTLEDB_DOCUMENT_FAILED', 'no options for bad']], 'the failed open is reported with its cause')
  t.equal(await (await x.doc('good', Model)).get('k'), 2, 'the other document synced')
  t.notOk(sx.destroyed, 'the stream stays open')
  sx.destroy()
  await closed
})

test('an idle document that fails to close is reported (documentError SCUTTLEDB_DOCUMENT_FAILED), not an unhandled rejection', async (t) => {
  class FailingClose extends Model {
    protected override async _closing (): Promise<void> { throw new Error('close failed') }
  }
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => { process.off('unhandledRejection', onUnhandled) })
  const c = new Collection({ db: join(await tempDir(t), 'c'), maxOpen: 1, types: { FailingClose } })
  await c.open()
  const reported = new Promise<[string, ScuttledbError]>((resolve) => { c.on('documentError', (name, err) => { resolve([name, err]) }) })
  await (await c.doc('first', 'FailingClose') as FailingClose).set('k', 1)
  await (await c.doc('second', 'FailingClose') as FailingClose).set('k', 2)
  const [name, err] = await reported
  t.deepEqual([name, err.code, (err.cause as Error | undefined)?.message], ['first', 'SCUTTLEDB_DOCUMENT_FAILED', 'close failed'], 'the evicted document\'s failed close is reported with its cause')
  await new Promise((resolve) => setImmediate(resolve))
  t.deepEqual(unhandled, [], 'no unhandled rejection')
  await c.close().catch(() => {})
})
