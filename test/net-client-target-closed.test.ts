// A client whose own instance (or collection) closes lost its connection with the
// socket's ERR_STREAM_PREMATURE_CLOSE and dialled again, to fail with SCUTTLEDB_NOT_OPEN:
// it now says so at once and does not retry.
import test from 'tape'
import { once } from 'node:events'
import { MemoryLevel } from 'memory-level'
import { Collection, Model, connect, listen, type Replicable } from '../lib/index.js'

interface Local {
  target: Replicable
  close: () => Promise<void>
}

async function localModel (): Promise<Local> {
  const model = new Model({ db: new MemoryLevel() })
  await model.open()
  return { target: model, close: async () => { await model.close() } }
}

async function localCollection (): Promise<Local> {
  const collection = new Collection({ db: new MemoryLevel() })
  await collection.open()
  return { target: collection.target(), close: async () => { await collection.close() } }
}

for (const [kind, make] of [['a Model', localModel], ['a collection', localCollection]] as const) {
  test(`a client of ${kind} that closes reports SCUTTLEDB_NOT_OPEN and does not dial again`, async (t) => {
    const remote = kind === 'a Model' ? await localModel() : await localCollection()
    const server = await listen(remote.target, { port: 0 })
    const local = await make()
    const client = connect(local.target, { port: server.address.port, minDelay: 10, maxDelay: 20 })
    let dials = 0
    client.on('connecting', () => { dials++ })
    await once(client, 'synced')
    const disconnected = once(client, 'disconnected') as Promise<[Error & { code?: string }, number | undefined]>
    await local.close()
    const [err, retryIn] = await disconnected
    t.equal(err.code, 'SCUTTLEDB_NOT_OPEN', 'the failure says the instance was closed')
    t.equal(retryIn, undefined, 'no retry is scheduled')
    await client.close()
    t.equal(dials, 1, 'it dialled once')
    t.equal(client.state, 'closed', 'the client is closed')
    await server.close()
    await remote.close()
  })
}
