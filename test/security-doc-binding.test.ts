// docs/security.md ("What signing does not cover"): a signature covers the change, the
// timestamp and the source, not the document (nor the collection or data type) it was
// written in. Found by red-team round 5 (c): a keyless peer carried alice's signed update
// of chat/general into payments/42, and a verifying collection stored it there under
// alice's name. Binding the document into the signed bytes is a protocol change not
// made; these tests pin what the docs say, and that the documented mitigation (who may
// write which document, per document) refuses the carried update.
import test, { type Test } from 'tape'
import { Collection, Model, codes, generateKeys, securityOptions, type CollectionOptions } from '../lib/index.js'
import { memoryModel, link } from './helpers.js'
import { linkCollections, memoryCollection } from './collection-helpers.js'

/** Alice's signed `approved: true` of chat/general, carried by a keyless peer into its own payments/42. */
async function carried (t: Test, alice: ReturnType<typeof generateKeys>, writers: string[]): Promise<Collection> {
  const a: Collection = await memoryCollection(t, { ...securityOptions(alice, { verifyOn: 'main' }), writers })
  const general = await a.doc('chat/general', Model)
  await general.set('approved', true)
  const carrier = await memoryModel(t)
  const l1 = link(general, carrier)
  await l1.synced
  const mallory = await memoryCollection(t)
  const payment = await mallory.doc('payments/42', Model)
  const l2 = link(carrier, payment)
  await l2.synced
  l1.a.destroy()
  l2.a.destroy()
  return mallory
}

async function receive (t: Test, from: Collection, options: Partial<CollectionOptions>): Promise<{ b: Collection, errors: string[] }> {
  const b: Collection = await memoryCollection(t, options)
  const errors: string[] = []
  b.on('documentError', (_name: string, err: Error & { code?: string }) => { errors.push(String(err.code)) })
  const l = linkCollections(from, b)
  await l.synced
  l.a.destroy()
  return { b, errors }
}

test('security: a signed update is not bound to its document (documented): carried into another, it verifies there', async (t) => {
  const [alice, bob] = [generateKeys(), generateKeys()]
  const writers = [alice.id, bob.id]
  const mallory = await carried(t, alice, writers)
  const { b } = await receive(t, mallory, { ...securityOptions(bob, { verifyOn: 'main' }), writers })
  const target = await b.doc('payments/42', Model)
  t.equal(await target.get('approved'), true, 'stored in the other document under alice\'s name, as docs/security.md says')
  t.equal(typeof target.clock[alice.id], 'number', 'with a clock entry of alice\'s there')
})

test('security: per-document writers (documentOptions) refuse a signed update carried into a document its signer may not write', async (t) => {
  const [alice, bob] = [generateKeys(), generateKeys()]
  const writers = [alice.id, bob.id]
  const mallory = await carried(t, alice, writers)
  const { b, errors } = await receive(t, mallory, {
    ...securityOptions(bob, { verifyOn: 'main' }),
    writers,
    documentOptions: (name) => name.startsWith('payments/') ? { writers: [bob.id] } : undefined
  })
  const target = await b.doc('payments/42', Model)
  t.equal(await target.get('approved'), undefined, 'not stored')
  t.equal(target.clock[alice.id], undefined, 'no clock entry of alice\'s')
  t.ok(errors.includes(codes.UNVERIFIED), `reported as documentError SCUTTLEDB_UNVERIFIED (${errors.join(', ')})`)
})
