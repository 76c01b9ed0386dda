// destroy(path) deletes LevelDB's files only. It removed the whole directory
// recursively: a database made in a directory that also holds the user's files
// (new Model({ db: '.' }) in a project, a --db pointed at an existing folder)
// took every one of them with it.
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'tape'
import { Model, destroy } from '../lib/index.js'
import { tempDir } from './helpers.js'

test('destroy(path) of a database in a directory with other files deletes the database and keeps the rest', async (t) => {
  const dir = await tempDir(t)
  await writeFile(join(dir, 'notes.txt'), 'mine')
  await mkdir(join(dir, 'src'))
  await writeFile(join(dir, 'src', 'index.js'), 'code')
  const model = new Model({ db: dir })
  await model.open()
  await model.set('k', 1)
  await destroy(dir).then(() => t.fail('an open database was destroyed'), (err) => { t.equal(err.code, 'SCUTTLEDB_DATABASE_LOCKED', 'open: refused') })
  await model.close()
  await destroy(dir)
  t.deepEqual((await readdir(dir)).sort(), ['notes.txt', 'src'], 'only the user\'s files are left')
  t.equal(await readFile(join(dir, 'src', 'index.js'), 'utf8'), 'code', 'untouched')
  const again = new Model({ db: dir })
  await again.open()
  t.equal(await again.get('k'), undefined, 'the database is gone: a new one opens empty')
  await again.close()
})

test('destroy(path) of a database directory that holds only the database removes the directory', async (t) => {
  const dir = join(await tempDir(t), 'db')
  const model = new Model({ db: dir })
  await model.open()
  await model.set('k', 1)
  await model.close()
  await destroy(dir)
  t.notOk(existsSync(dir), 'gone')
})
