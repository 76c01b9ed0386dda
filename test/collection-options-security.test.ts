// Collections of signed documents: `security` and `writers` reach every document,
// so a relay collection verifies what it stores and forwards, over TCP, on disk.
import test, { type Test } from 'tape'
import { once } from 'node:events'
import {
  Collection, Model, codes, connect, createSecurity, generateKeys, listen, securityOptions,
  type CollectionOptions, type Connection, type KeyPair, type ScuttledbError, type Update
} from '../lib/index.js'
import { tempDir, until } from './helpers.js'

async function diskCollection (t: Test, options: Partial<CollectionOptions> = {}): Promise<Collection> {
  const c = new Collection({ db: await tempDir(t), ...options })
  await c.open()
  t.teardown(async () => { await c.close() })
  return c
}

/** Every update of one document's history. */
async function historyOf (c: Collection, name: string): Promise<Update[]> {
  const out: Update[] = []
  await c.use(name, async (doc) => { for await (const update of doc.history()) out.push(update) })
  return out
}

/** `[change, ts, source]` signed with `keys`, as its node would have written it. */
function signedBy (keys: KeyPair, change: unknown, ts: number): Update {
  const update: Update = [change, ts, keys.id]
  return [...update, createSecurity({ keys }).sign(update)]
}

/** Feed `updates` into an unsecured collection's document as if they had arrived from a peer (a hostile node keeps whatever it likes). */
async function plant (c: Collection, name: string, updates: Update[]): Promise<void> {
  await c.use(name, async (doc: Model) => {
    for (const update of updates) {
      await new Promise<void>((resolve, reject) => { doc._receive(update, undefined, undefined, (err) => { if (err === null) resolve(); else reject(err) }) })
    }
  }, Model)
}

const [KA, KB, KR, KW, KM] = [generateKeys(), generateKeys(), generateKeys(), generateKeys(), generateKeys()]
/** A, B and R are nodes; W a writer whose updates only travel relayed; M (mallory) signs correctly but is no writer. */
const WRITERS = [KA.id, KB.id, KR.id, KW.id]

test('collection security: a signed write goes A -> relay -> B over TCP and verifies at B; forged and non-writer updates from a hostile peer are rejected, not stored, and its sync goes on', async (t) => {
  const a = await diskCollection(t, { ...securityOptions(KA), writers: WRITERS })
  const r = await diskCollection(t, { ...securityOptions(KR), writers: WRITERS })
  const b = await diskCollection(t, { ...securityOptions(KB), writers: WRITERS })
  const relayErrors: string[] = []
  const otherErrors: string[] = []
  r.on('documentError', (name, err) => { relayErrors.push(`${name} ${err.code}`) })
  a.on('documentError', (name, err) => { otherErrors.push(`a ${name} ${err.code}`) })
  b.on('documentError', (name, err) => { otherErrors.push(`b ${name} ${err.code}`) })
  const server = await listen(r.target(), { port: 0 })
  t.teardown(async () => { await server.close() })
  const toA = connect(a.target(), { port: server.address.port, minDelay: 10, maxDelay: 50 })
  t.teardown(async () => { await toA.close() })
  const toB = connect(b.target(), { port: server.address.port, minDelay: 10, maxDelay: 50 })
  t.teardown(async () => { await toB.close() })
  await Promise.all([once(toA, 'synced'), once(toB, 'synced')])

  await (await a.doc('notes', Model)).set('k', 'signed by A')
  t.ok(await until(async () => await (await b.doc('notes', Model)).get('k') === 'signed by A', 10_000), 'the write reached B through the relay')
  const [atB] = await historyOf(b, 'notes')
  t.equal(atB?.[2], KA.id, 'from A')
  t.equal(createSecurity().verifySync(atB as Update), true, 'carrying A\'s signature, which verifies')
  t.equal(r.id, KR.id, 'the relay signs under its key\'s id')
  await (await r.doc('notes', Model)).set('relay', 'signed by R')
  t.ok(await until(async () => await (await b.doc('notes', Model)).get('relay') === 'signed by R', 10_000), 'the relay\'s own writes are signed and verify at B too')

  // Mallory: an unsecured collection holding what she likes, dialling the relay like anyone.
  const m = await diskCollection(t)
  const genuine = (await historyOf(a, 'notes'))[0] as Update
  const ts = genuine[1]
  await plant(m, 'notes', [
    [['k', 'forged'], ts + 1, KA.id, genuine[3]],          // A's signature on another change: bad signature
    signedBy(KM, ['m', 'mallory was here'], Date.now()),   // well signed, by no writer
    signedBy(KW, ['w', 'from W'], ts + 2)                  // genuine, after both in the same document
  ])
  await plant(m, 'other', [signedBy(KW, ['w2', 2], Date.now())])
  const toM = connect(m.target(), { port: server.address.port, minDelay: 10, maxDelay: 50 })
  t.teardown(async () => { await toM.close() })
  const [mallory] = await once(toM, 'synced') as [Connection]
  t.ok(await until(() => relayErrors.length >= 2, 10_000), 'the relay reported both')
  t.deepEqual(relayErrors, [`notes ${codes.UNVERIFIED}`, `notes ${codes.UNVERIFIED}`], 'as SCUTTLEDB_UNVERIFIED, for the document they came in')
  const notes = await r.doc('notes', Model)
  t.equal(await notes.get('k'), 'signed by A', 'the forged change was not stored')
  t.equal(await notes.get('m'), undefined, 'nor the non-writer\'s')
  t.equal(await notes.get('w'), 'from W', 'the genuine update after them in the same document was')
  t.equal(await (await r.doc('other', Model)).get('w2'), 2, 'and the other document\'s')
  t.equal(mallory.streams[0]?.destroyed, false, 'the hostile peer\'s stream is still up: the sync went on')
  t.ok(await until(async () => await (await b.doc('other', Model)).get('w2') === 2 && await (await b.doc('notes', Model)).get('w') === 'from W', 10_000), 'B got the genuine relayed updates')
  t.equal(await (await b.doc('notes', Model)).get('m'), undefined, 'and nothing of the rejected ones')
  t.ok((await historyOf(r, 'notes')).every((u) => u[2] !== KM.id && JSON.stringify(u[0]) !== '["k","forged"]'), 'the relay\'s history holds neither')
  t.deepEqual(otherErrors, [], 'A and B never saw a bad update: the relay forwarded none')
})

test('collection security: documents are verified per update even when the writers list is per document (documentOptions overrides the collection-wide one)', async (t) => {
  const server = await diskCollection(t, {
    ...securityOptions(KR),
    writers: WRITERS,
    documentOptions: (name) => name === 'locked' ? { writers: [KR.id] } : undefined
  })
  const client = await diskCollection(t, securityOptions(KA))
  const errors: Array<[string, ScuttledbError]> = []
  server.on('documentError', (name, err) => { errors.push([name, err]) })
  await (await client.doc('locked', Model)).set('k', 'A may not write here')
  await (await client.doc('open', Model)).set('k', 'A may write here')
  const listener = await listen(server.target(), { port: 0 })
  t.teardown(async () => { await listener.close() })
  const dialer = connect(client.target(), { port: listener.address.port, minDelay: 10, maxDelay: 50 })
  t.teardown(async () => { await dialer.close() })
  await once(dialer, 'synced')
  t.ok(await until(async () => await (await server.doc('open', Model)).get('k') === 'A may write here', 10_000), 'the document with the collection\'s writers took A\'s update')
  t.ok(await until(() => errors.length >= 1, 10_000), 'the locked one reported a rejection')
  t.deepEqual(errors.map(([name, err]) => [name, err.code]), [['locked', codes.UNVERIFIED]], 'SCUTTLEDB_UNVERIFIED for it only')
  t.equal(await (await server.doc('locked', Model)).get('k'), undefined, 'and stored nothing')
})

test('collection security: without an id, a new collection takes its signing backend\'s id (createId), so its writes can be signed', async (t) => {
  const keys = generateKeys()
  const db = await tempDir(t)
  const c = new Collection({ db, security: createSecurity({ keys }) })
  await c.open()
  t.equal(c.id, keys.id, 'the collection id is the key\'s id')
  await (await c.doc('x', Model)).set('k', 1)
  const [update] = await historyOf(c, 'x')
  t.equal(createSecurity().verifySync(update as Update), true, 'a local write is signed and verifies')
  await c.close()
  const other = new Collection({ db, security: createSecurity({ keys: generateKeys() }) })
  try {
    await other.open()
    t.fail('opened under another key')
  } catch (err) {
    t.equal((err as ScuttledbError).code, codes.ID_MISMATCH, 'reopened with another key\'s backend, it rejects with ID_MISMATCH (its writes could not be signed)')
  }
  await other.close()
})
