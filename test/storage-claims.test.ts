import test from 'tape'
import { join } from 'node:path'
import { MemoryLevel } from 'memory-level'
import { Events, Model } from '../lib/index.js'
import { tempDir } from './helpers.js'

// Two instances on one database would write as one id with two clocks and lose
// acknowledged writes: the second open is refused, in every way a database is shared.

test('a second instance on the same database object is refused with SCUTTLEDB_DATABASE_LOCKED, and opens once the first has closed', async (t) => {
  const db = new MemoryLevel()
  const first = new Model({ db })
  await first.open()
  await first.set('k', 1)
  const second = new Model({ db })
  try {
    await second.open()
    t.fail('the second open resolved')
  } catch (err) {
    t.equal((err as { code?: string }).code, 'SCUTTLEDB_DATABASE_LOCKED', 'refused, coded')
  }
  t.equal(second.status, 'closed', 'the refused instance is closed')
  const otherType = new Events({ db })
  await otherType.open().then(() => t.fail('another data type opened it'), (err) => { t.equal(err.code, 'SCUTTLEDB_DATABASE_LOCKED', 'another data type is refused too') })
  await first.set('k', 2)
  t.equal(await first.get('k'), 2, 'the first instance goes on')
  await first.close()
  const third = new Model({ db })
  await third.open()
  t.equal(await third.get('k'), 2, 'after the first closed, a new instance opens and reads its writes')
  await third.close()
  await db.close()
})

test('two sublevel objects of one name are one database; sublevels of other names are not', async (t) => {
  const root = new MemoryLevel()
  const a = new Model({ db: root.sublevel('doc') })
  await a.open()
  const again = new Model({ db: root.sublevel('doc') })
  await again.open().then(() => t.fail('opened'), (err) => { t.equal(err.code, 'SCUTTLEDB_DATABASE_LOCKED', 'a second sublevel object of the same name is refused') })
  const nested = new Model({ db: root.sublevel('outer').sublevel('doc') })
  await nested.open()
  const other = new Model({ db: root.sublevel('other') })
  await other.open()
  const onRoot = new Model({ db: root })
  await onRoot.open()
  t.pass('a nested sublevel, another sublevel and the root itself each open')
  await Promise.all([a.close(), nested.close(), other.close(), onRoot.close()])
  await root.close()
})

test('of two concurrent opens on one object exactly one succeeds; a failed open gives its claim back', async (t) => {
  const db = new MemoryLevel()
  const x = new Model({ db, id: 'x' })
  const y = new Model({ db, id: 'x' })
  const outcomes = await Promise.allSettled([x.open(), y.open()])
  t.deepEqual(outcomes.map((o) => o.status).sort(), ['fulfilled', 'rejected'], 'one opened, one was refused')
  await x.close()
  await y.close()
  const wrong = new Model({ db, id: 'not-x' })
  await wrong.open().then(() => t.fail('opened'), (err) => { t.equal(err.code, 'SCUTTLEDB_ID_MISMATCH', 'an open that fails for another reason') })
  const right = new Model({ db, id: 'x' })
  await right.open()
  t.pass('leaves the database free for the next open')
  await right.close()
  await db.close()
})

test('a second instance on the same directory in one process is refused with SCUTTLEDB_DATABASE_LOCKED', async (t) => {
  const dir = join(await tempDir(t), 'db')
  const first = new Model({ db: dir })
  await first.open()
  const second = new Model({ db: dir })
  await second.open().then(() => t.fail('opened'), (err) => { t.equal(err.code, 'SCUTTLEDB_DATABASE_LOCKED', 'refused, coded') })
  await first.close()
  const third = new Model({ db: dir })
  await third.open()
  t.pass('opens once the first has closed')
  await third.close()
})
