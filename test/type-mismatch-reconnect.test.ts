import { once } from 'node:events'
import test from 'tape'
import { MemoryLevel } from 'memory-level'
import { Events, Model, connect, listen } from '../lib/index.js'

// A client whose peer is of another data type (a Model dialing a node serving Events) is
// refused with SCUTTLEDB_TYPE_MISMATCH; it used to dial again with backoff for ever, though
// no retry can change the peer's type. It gives up (emits close), as for a closed instance.
test('connect() gives up on a peer of another data type (SCUTTLEDB_TYPE_MISMATCH)', async (t) => {
  const events = new Events({ db: new MemoryLevel() })
  const model = new Model({ db: new MemoryLevel() })
  await Promise.all([events.open(), model.open()])
  t.teardown(async () => { await Promise.all([events.close(), model.close()]) })
  await events.record('x', 1)
  const server = await listen(events, { port: 0 })
  t.teardown(async () => { await server.close() })
  const client = connect(model, { port: server.address.port, minDelay: 10, maxDelay: 20 })
  const failures: Array<[string | undefined, number | undefined]> = []
  client.on('disconnected', (err: NodeJS.ErrnoException | undefined, retryIn: number | undefined) => { failures.push([err?.code, retryIn]) })
  let timer: NodeJS.Timeout | undefined
  const closed = await Promise.race([
    once(client, 'close').then(() => true),
    new Promise<boolean>((resolve) => { timer = setTimeout(() => { resolve(false) }, 5000) })
  ])
  clearTimeout(timer)
  if (!closed) await client.close()
  t.ok(closed, 'the client gives up by itself')
  t.deepEqual(failures, [['SCUTTLEDB_TYPE_MISMATCH', undefined]], 'after one attempt, refused with SCUTTLEDB_TYPE_MISMATCH and no retry')
  t.equal(await model.get('x'), undefined, 'and the model took nothing')
})
