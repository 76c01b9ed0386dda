// ReplicationClient's retry wait, driven from its own 'disconnected' event: a
// close() there resolves at once and a retryNow() there dials at once, rather
// than after the backoff (here ten minutes).
import test, { type Test } from 'tape'
import { connect, type ReplicationClient } from '../lib/index.js'
import { memoryModel, until } from './helpers.js'
import { freePort } from './fixtures/net-helpers.js'

const LONG = 600_000

/** A client dialing a port where nothing listens, with a ten-minute, jitter-free backoff. */
async function refusedClient (t: Test): Promise<ReplicationClient> {
  const model = await memoryModel(t)
  const client = connect(model, { port: await freePort(), minDelay: LONG, maxDelay: LONG, random: () => 0 })
  t.teardown(async () => { await client.close() })
  return client
}

test('close() called from a disconnected listener resolves at once, without waiting out the retry delay', async (t) => {
  const client = await refusedClient(t)
  let closed = false
  let emittedClose = false
  client.once('close', () => { emittedClose = true })
  client.once('disconnected', (_err, retryIn) => {
    t.equal(retryIn, LONG, 'a retry was due in ten minutes')
    void client.close().then(() => { closed = true })
  })
  t.ok(await until(() => closed), 'close() resolved')
  t.equal(client.state, 'closed', 'the client is closed')
  t.ok(emittedClose, 'and emitted close')
})

test('retryNow() called from a disconnected listener dials again at once', async (t) => {
  const client = await refusedClient(t)
  const attempts: number[] = []
  client.on('connecting', (attempt) => { attempts.push(attempt) })
  client.once('disconnected', () => { client.retryNow() })
  t.ok(await until(() => attempts.length >= 2), 'a second attempt started')
  t.deepEqual(attempts.slice(0, 2), [1, 2], 'attempts 1 and 2')
})
