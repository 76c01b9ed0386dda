// A document that a peer's updates would create, all of which are refused, is not kept:
// red-team round 5 (c) had a keyless peer announce documents and send only forged
// updates to a secured collection; every update was refused (SCUTTLEDB_UNVERIFIED), yet
// each name stayed in the catalog on disk, so such a peer could grow it at will.
import test, { type Test } from 'tape'
import { once } from 'node:events'
import { MemoryLevel } from 'memory-level'
import { Collection, Model, codes, generateKeys, securityOptions, type CollectionOptions } from '../lib/index.js'
import { frame, linkCollections, memoryCollection, scriptedPeer } from './collection-helpers.js'

const alice = generateKeys()
const bob = generateKeys()

/** A secured collection (bob's) on `db`, with the codes of its documentErrors. */
async function secured (db: MemoryLevel, options: Partial<CollectionOptions> = {}): Promise<{ c: Collection, errors: string[] }> {
  const c = new Collection({ db, ...securityOptions(bob, { verifyOn: 'main' }), ...options })
  await c.open()
  const errors: string[] = []
  c.on('documentError', (_name: string, err: Error & { code?: string }) => { errors.push(String(err.code)) })
  return { c, errors }
}

/** A scripted peer sends `name` two forged updates claiming alice's id; resolves once both are refused. */
async function forge (c: Collection, errors: string[], name: string): Promise<void> {
  const { stream } = scriptedPeer(c, name, true)
  stream.write(frame({ t: 'doc', d: name }))
  const now = Date.now() + 0.25
  stream.write(frame([['k', 'unsigned'], now, alice.id]))
  stream.write(frame([['k', 'forged'], now + 1, alice.id, ['AAAA', alice.publicKeyDer.toString('base64url')]]))
  while (errors.filter((code) => code === codes.UNVERIFIED).length < 2) await once(c, 'documentError')
  stream.destroy()
  await once(stream, 'close')
}

async function reopened (t: Test, db: MemoryLevel): Promise<string[]> {
  const again = new Collection({ db, ...securityOptions(bob, { verifyOn: 'main' }) })
  await again.open()
  t.teardown(async () => { await again.close() })
  return again.names()
}

test('collection: a document whose every update a peer sent was refused is not kept', async (t) => {
  const db = new MemoryLevel()
  const { c, errors } = await secured(db)
  await forge(c, errors, 'spam/1')
  t.deepEqual(errors, [codes.UNVERIFIED, codes.UNVERIFIED], 'both updates were refused')
  await c.close()
  t.deepEqual(await reopened(t, db), [], 'no catalog entry after a reopen')
  const keys: string[] = []
  for await (const key of db.keys()) keys.push(key)
  t.notOk(keys.some((key) => !key.startsWith('!cmeta!')), `nothing but the collection's own meta is stored (${keys.join(', ')})`)
})

test('collection: such a document leaves the catalog when it is closed while the collection stays open', async (t) => {
  const db = new MemoryLevel()
  const { c, errors } = await secured(db, { maxOpen: 1 })
  t.teardown(async () => { await c.close() })
  await forge(c, errors, 'spam/2')
  // Opening another document evicts the refused one (maxOpen 1).
  const closed = once(c, 'documentClose')
  await c.use('other', async (doc: Model) => { await doc.set('x', 1) }, Model)
  t.deepEqual(await closed, ['spam/2'], 'the refused document was closed')
  t.deepEqual(c.names(), ['other'], 'only the document written to is listed')
})

test('collection: a document the local API asked for, or one a peer wrote to, is kept', async (t) => {
  const db = new MemoryLevel()
  const { c, errors } = await secured(db)
  const asked = c.doc('spam/3', Model)
  await forge(c, errors, 'spam/3')
  await asked
  // An honest writer's update creates a document that is kept.
  const a = await memoryCollection(t, { ...securityOptions(alice, { verifyOn: 'main' }) })
  await (await a.doc('notes', Model)).set('k', 'v')
  const l = linkCollections(a, c)
  await l.synced
  l.a.destroy()
  await c.close()
  t.deepEqual((await reopened(t, db)).sort(), ['notes', 'spam/3'], 'the document doc() asked for and the one written to are kept')
})
