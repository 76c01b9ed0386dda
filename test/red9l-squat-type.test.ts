// Red-team round 9 (l): a keyless peer's forged updates create a document of the wrong
// type at a secured node. Every update is refused, so the document is dropped when it
// closes (the change under test), but while it is open an honest peer's document of that
// name is answered with a type mismatch, and the node still records the honest peer's
// `done` as if it held that document. Once the squatting document is gone, a reconnect
// (`want since` that record) never lists the honest document again: it is never synced.
import test from 'tape'
import { once } from 'node:events'
import { MemoryLevel } from 'memory-level'
import { Collection, Model, codes, generateKeys, securityOptions } from '../lib/index.js'
import { COLLECTION_PROTOCOL } from '../lib/collection-protocol.js'
import { frame, linkCollections, memoryCollection } from './collection-helpers.js'

const alice = generateKeys()
const bob = generateKeys()

test('red9l: a forged document of another type does not make a later sync skip the honest one', async (t) => {
  const db = new MemoryLevel()
  const b = new Collection({ db, ...securityOptions(bob, { verifyOn: 'main' }) })
  await b.open()
  const errors: string[] = []
  b.on('documentError', (_name: string, err: Error & { code?: string }) => { errors.push(String(err.code)) })

  // The forger announces 'notes' as an Events document and sends a forged update of it.
  const forger = b.createStream()
  forger.resume()
  forger.on('error', () => {})
  forger.write(frame({ t: 'hello', p: COLLECTION_PROTOCOL, id: 'EVIL', epoch: 'E', seq: 0 }))
  forger.write(frame({ t: 'want', since: 0 }))
  forger.write(frame({ t: 'docs', d: [['notes', 'Events', {}, true]] }))
  forger.write(frame({ t: 'doc', d: 'notes' }))
  forger.write(frame([['ev', ['x']], Date.now() + 0.25, alice.id]))
  while (!errors.includes(codes.UNVERIFIED)) await once(b, 'documentError')
  t.equal(b.typeOf('notes'), 'Events', 'the forged document is open, as an Events')

  // Alice (honest) holds 'notes' as a Model and syncs with bob meanwhile.
  const a = await memoryCollection(t, { ...securityOptions(alice, { verifyOn: 'main' }) })
  await (await a.doc('notes', Model)).set('k', 'v')
  const first = linkCollections(a, b)
  await first.synced
  first.a.destroy()
  await first.closed
  forger.destroy()
  await once(forger, 'close')

  // Bob closes (the forged document is dropped) and opens again.
  await b.close()
  const again = new Collection({ db, ...securityOptions(bob, { verifyOn: 'main' }) })
  await again.open()
  t.teardown(async () => { await again.close() })
  t.deepEqual(again.names(), [], 'the forged document was dropped')

  const second = linkCollections(a, again)
  await second.synced
  const value = again.has('notes') ? await again.use('notes', async (doc: Model) => doc.get('k'), Model) : undefined
  t.equal(value, 'v', "alice's document reached bob on the next sync")
  second.a.destroy()
  await second.closed
})
