import test from 'tape'
import { connect, listen, type Model } from '../lib/index.js'
import { memoryModel, until } from './helpers.js'

/** Generous: the update must arrive eventually; failing means it never does on this connection. */
const HUNG_MS = 10_000

// Red-team round 9 (k): a server whose on-demand resolver threw once for a document refused
// its channel (as SCUTTLEDB_UNKNOWN_DOCUMENT, though it exists) and nothing asked for it again
// while the connection stayed up: its updates never arrived. A resolver that throws now closes
// the connection (SCUTTLEDB_DOCUMENT_FAILED at the server), and the client's reconnect asks again.
test('red9k: a document the server could not open once (its resolver threw) replicates after the connection closes and is made again', async (t) => {
  const sa = await memoryModel(t)
  const sb = await memoryModel(t)
  const served: Record<string, Model> = { a: sa, b: sb }
  let failures = 0
  // An on-demand resolver whose first open of 'b' fails (a store busy, out of file descriptors).
  const server = await listen({
    docs: async (name: string) => {
      if (name === 'b' && failures++ === 0) throw new Error('EMFILE: too many open files')
      return served[name]
    }
  })
  t.teardown(async () => { await server.close() })
  const dropped: string[] = []
  server.on('disconnect', (_c: unknown, err?: Error & { code?: string }) => { if (err !== undefined) dropped.push(String(err.code)) })
  const ca = await memoryModel(t)
  const cb = await memoryModel(t)
  const client = connect({ docs: { a: ca, b: cb } }, { port: server.address.port, minDelay: 50, maxDelay: 200 })
  t.teardown(async () => { await client.close() })
  await sa.set('k', 'a')
  await sb.set('k', 'b')
  t.ok(await until(async () => await ca.get('k') === 'a', HUNG_MS), 'a replicates')
  t.ok(await until(async () => await cb.get('k') === 'b', HUNG_MS), 'b replicates too, eventually: an honest peer gets every update')
  t.equal(failures, 2, 'b was asked for again after the failure')
  t.deepEqual(dropped, ['SCUTTLEDB_DOCUMENT_FAILED'], 'the server closed that connection with SCUTTLEDB_DOCUMENT_FAILED')
})
