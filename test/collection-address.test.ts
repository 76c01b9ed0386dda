// A collection's documents are written to its database with their sublevels' prefixed
// keys, without an abstract-level sublevel per document (lib/storage.ts, SublevelAddress).
import test from 'tape'
import { cp } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Level } from 'level'
import { MemoryLevel } from 'memory-level'
import { Collection, Model, type Database } from '../lib/index.js'
import { tempDir, trackResources } from './helpers.js'

const VALUES: Record<string, unknown> = { s: 'text', n: 0.1, big: 2 ** 60, bin: Buffer.from([0, 255]), obj: { a: [1, null, { 'ü': '😀' }] } }

test('a collection on a database of utf8 keys and binary values: documents read back exactly, and nothing stays attached to the database', async (t) => {
  const db = new MemoryLevel<string, Buffer>({ keyEncoding: 'utf8', valueEncoding: 'buffer' })
  await db.open()
  t.teardown(async () => { await db.close() })
  const attached = trackResources(db)
  const c = new Collection({ db, maxOpen: 2 })
  await c.open()
  for (let i = 0; i < 12; i++) {
    await c.use(`doc-${i}`, async (doc: Model) => { for (const [key, value] of Object.entries(VALUES)) await doc.set(key, value as never) }, Model)
  }
  t.ok(c.opened.length <= 2, 'at most maxOpen documents stay open')
  await c.close()
  t.equal(attached(), 0, 'no sublevel, iterator or document of the collection stays attached once it closed')
  const keys: string[] = []
  for await (const key of db.keys()) keys.push(key)
  t.ok(keys.includes('!d0!!meta!format') && keys.some((key) => key.startsWith('!d0!!log!')) && keys.some((key) => key.startsWith('!db!!data-keys!')),
    'documents are stored under their sublevels\' prefixes, as a sublevel would write them')

  const again = new Collection({ db, maxOpen: 2 })
  await again.open()
  for (let i = 0; i < 12; i++) {
    const read = await again.use(`doc-${i}`, async (doc: Model) => Object.fromEntries(await Promise.all(Object.keys(VALUES).map(async (key) => [key, await doc.get(key)]))))
    t.deepEqual(read, VALUES, `doc-${i} reads back what was written`)
  }
  await again.close()
  t.equal(attached(), 0, 'nothing attached after a second open and close')
})

test('a document stored by 0.1.0 inside a collection opens upgraded, and its upgrade leaves nothing attached', async (t) => {
  // The 0.1.0 fixture's records, copied under the prefix of the collection's first document.
  const fixture = join(await tempDir(t), 'model')
  await cp(fileURLToPath(new URL('../../test/fixtures/format-1/model', import.meta.url)), fixture, { recursive: true })
  const source = new Level<string, Buffer>(fixture, { keyEncoding: 'utf8', valueEncoding: 'buffer' })
  const records: Array<[string, Buffer]> = []
  for await (const entry of source.iterator()) records.push(entry)
  await source.close()

  const db = new MemoryLevel<string, Buffer>({ keyEncoding: 'utf8', valueEncoding: 'buffer' })
  await db.open()
  t.teardown(async () => { await db.close() })
  const c = new Collection({ db, id: 'FIXTURE-A' })
  await c.open()
  await c.doc('old', 'Model')
  await c.close()
  // What the empty document wrote at close gives way to the fixture.
  await db.clear({ gte: '!d0!', lt: '!d0"' })
  await db.batch(records.map(([key, value]) => ({ type: 'put' as const, key: '!d0!' + key, value })))

  const attached = trackResources(db)
  const again = new Collection({ db, id: 'FIXTURE-A' })
  await again.open()
  const plain = await again.use('old', async (doc: Model) => await doc.get('plain'))
  t.equal(plain, 'world', 'the 0.1.0 value reads back')
  await again.close()
  t.equal((await db.get('!d0!!meta!format'))?.toString('hex'), '02', 'the document was upgraded to format 2 in place')
  t.equal(attached(), 0, 'the sublevels the upgrade wrote through were let go')
})

test('a collection under a sublevel with a prewrite hook writes its documents through that sublevel, so the hook sees every write', async (t) => {
  const root = new MemoryLevel<string, Buffer>({ keyEncoding: 'utf8', valueEncoding: 'buffer' })
  await root.open()
  t.teardown(async () => { await root.close() })
  const parent = root.sublevel<string, Buffer>('c', { keyEncoding: 'utf8', valueEncoding: 'buffer' })
  const seen: string[] = []
  parent.hooks.prewrite.add((op) => { seen.push(String(op.key)) })
  const c = new Collection({ db: parent as unknown as Database })
  await c.open()
  await c.use('x', async (doc: Model) => { await doc.set('k', 'v') }, Model)
  await c.close()
  t.ok(seen.some((key) => key.includes('log')), 'the hook saw the document\'s log write')
  t.ok(seen.some((key) => key.includes('data-keys')), 'the hook saw the document\'s key record')
  const again = new Collection({ db: parent as unknown as Database })
  await again.open()
  t.equal(await again.use('x', async (doc: Model) => await doc.get('k')), 'v', 'the value reads back')
  await again.close()
})
