import test from 'tape'
import { symlink } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { Collection, destroy, Model } from '../lib/index.js'
import { tempDir } from './helpers.js'

// LevelDB's lock compares the path as spelled: a second open of one directory under
// another spelling (relative vs absolute, a trailing slash, a symbolic link) passed
// it, and the second open's recovery deleted the first's log file, so every write
// the first acknowledged afterwards was gone once it closed (100 of 100 here).
async function refused (open: () => Promise<void>): Promise<string | undefined> {
  try {
    await open()
    return 'opened'
  } catch (err) {
    return (err as { code?: string }).code
  }
}

test('a second instance on one directory under another spelling is refused and loses nothing of the first', async (t) => {
  const dir = await tempDir(t)
  const db = join(dir, 'db')
  const link = join(dir, 'link')
  const first = new Model({ db })
  await first.open()
  await first.set('before', 1)
  await symlink(db, link)
  for (const spelling of [relative(process.cwd(), db), `${db}/`, join(dir, '.', 'x', '..', 'db'), link]) {
    const second = new Model({ db: spelling })
    t.equal(await refused(async () => { await second.open() }), 'SCUTTLEDB_DATABASE_LOCKED', `refused as ${spelling}`)
    await second.close()
    const collection = new Collection({ db: spelling })
    t.equal(await refused(async () => { await collection.open() }), 'SCUTTLEDB_DATABASE_LOCKED', `a Collection refused as ${spelling}`)
    await collection.close()
  }
  for (let i = 0; i < 100; i++) await first.set(`k${i}`, i)
  await first.close()
  const again = new Model({ db })
  await again.open()
  const stored = await again.toJSON()
  await again.close()
  t.equal(Object.keys(stored).length, 101, 'every acknowledged write is stored')
  t.equal(stored.k99, 99, 'the last one too')
})

test('the directory is free again once the first instance closed', async (t) => {
  const dir = await tempDir(t)
  const first = new Model({ db: join(dir, 'db') })
  await first.open()
  await first.close()
  const second = new Model({ db: `${join(dir, 'db')}/` })
  await second.open()
  t.equal(second.status, 'open', 'opened under another spelling after the close')
  await second.close()
})

test('destroy() refuses an open database under another spelling of its path and deletes nothing', async (t) => {
  const dir = await tempDir(t)
  const db = join(dir, 'db')
  const model = new Model({ db })
  await model.open()
  await model.set('keep', 1)
  for (const spelling of [`${db}/`, relative(process.cwd(), db)]) {
    t.equal(await refused(async () => { await destroy(spelling) }), 'SCUTTLEDB_DATABASE_LOCKED', `refused as ${spelling}`)
  }
  await model.set('after', 2)
  await model.close()
  const again = new Model({ db })
  await again.open()
  t.deepEqual(await again.toJSON(), { keep: 1, after: 2 }, 'nothing was deleted')
  await again.close()
})
