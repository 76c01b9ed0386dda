import test from 'tape'
import { join } from 'node:path'
import { Collection, Model, type ScuttledbError } from '../lib/index.js'
import { linkCollections, quiet } from './collection-helpers.js'
import { tempDir } from './helpers.js'

// docs/collections.md, documentError: a peer's document of a type not registered
// here is not synced, "the other documents go on". Once the type is registered
// (the application upgraded), the next sync should bring the document: the
// receiver took none of it. It never arrives, because the receiver recorded the
// peer's `done` over it and the peer no longer lists it (it only changes if written again).

class Todo extends Model {}

async function syncOnce (x: Collection, y: Collection): Promise<void> {
  const link = linkCollections(x, y)
  await link.synced
  await quiet([link.a, link.b])
  link.a.destroy()
  await link.closed
}

test('a document skipped as SCUTTLEDB_UNKNOWN_TYPE arrives once the type is registered', async (t) => {
  const dir = await tempDir(t)
  const a = new Collection({ db: join(dir, 'a'), types: { Todo } })
  await a.open()
  t.teardown(async () => { await a.close() })
  await a.use('list', async (doc: Todo) => { await doc.set('t1', 'buy milk') }, 'Todo')

  const before = new Collection({ db: join(dir, 'b') })
  await before.open()
  const errors: string[] = []
  before.on('documentError', (_name: string, err: ScuttledbError) => { errors.push(err.code) })
  await syncOnce(a, before)
  await before.close()
  t.deepEqual(errors, ['SCUTTLEDB_UNKNOWN_TYPE'], 'first sync: the type is unknown here')

  const b = new Collection({ db: join(dir, 'b'), types: { Todo } })
  await b.open()
  t.teardown(async () => { await b.close() })
  await syncOnce(a, b)
  t.ok(b.has('list'), 'the document arrived once its type is registered')
  if (b.has('list')) t.equal(await b.use('list', async (doc: Todo) => await doc.get('t1')), 'buy milk', 'with its content')
})
