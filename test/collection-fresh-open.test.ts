import test from 'tape'
import { ClassicLevel } from 'classic-level'
import { join } from 'node:path'
import { Collection, Model } from '../lib/index.js'
import { tempDir } from './helpers.js'

// A document the collection creates has a number never used before, reserved on disk
// before anything is written under it: it opens without reading the database.

type Root = ClassicLevel<string, Buffer>

/** Count reads of the root database (get, getMany, iterators) while `counting` is on. */
function countReads (root: Root): { reads: number, counting: boolean } {
  const counter = { reads: 0, counting: false }
  for (const method of ['get', 'getMany', 'iterator', 'keys', 'values'] as const) {
    const original = (root[method] as (...args: unknown[]) => unknown).bind(root)
    ;(root as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      if (counter.counting) counter.reads++
      return original(...args)
    }
  }
  return counter
}

test('collection: a new document opens without reading the database, and its writes are read back after a restart', async (t) => {
  const dir = join(await tempDir(t), 'db')
  const root: Root = new ClassicLevel(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' })
  await root.open()
  const counter = countReads(root)
  const c = new Collection({ db: root })
  await c.open()
  counter.counting = true
  await c.use('fresh', async (doc: Model) => {
    t.equal(counter.reads, 0, 'opening it read nothing')
    await doc.set('k', 'v')
  }, Model)
  counter.counting = false
  await c.close()
  await root.close()
  const again = new Collection({ db: dir })
  await again.open()
  t.equal(await again.use('fresh', async (doc: Model) => await doc.get('k')), 'v', 'the write is there after reopening')
  await again.close()
})

test('collection: a document closed and opened again in the same process reads what it holds', async (t) => {
  const c = new Collection({ db: join(await tempDir(t), 'db'), maxOpen: 1 })
  await c.open()
  await c.use('a', async (doc: Model) => { await doc.set('k', 1) }, Model)
  // Opening another closes the first (maxOpen 1); using it again must not assume it blank.
  await c.use('b', async (doc: Model) => { await doc.set('k', 2) }, Model)
  t.deepEqual(c.opened.includes('a'), false, 'the first document was closed')
  t.equal(await c.use('a', async (doc: Model) => await doc.get('k')), 1, 'reopened, it reads its value')
  await c.use('a', async (doc: Model) => { await doc.set('j', 3) }, Model)
  t.equal(await c.use('a', async (doc: Model) => await doc.get('k')), 1, 'and keeps it after more writes')
  await c.close()
})
