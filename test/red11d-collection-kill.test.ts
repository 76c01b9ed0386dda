import test from 'tape'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { Collection, Counter, Events, Model, Value, connect, listen, seededRandom, type CollectionStream, type Connection } from '../lib/index.js'
import { differences, quiet, snapshot } from './collection-helpers.js'
import { tempDir, until } from './helpers.js'

const CHILD = fileURLToPath(new URL('./fixtures/red11d-collection-child.js', import.meta.url))
const ROUNDS = 5

/** The value a document's first write stored, read the way its type is read. */
async function read (c: Collection, name: string): Promise<unknown> {
  return await c.use(name, async (doc) => {
    if (doc instanceof Model) return await doc.get('i')
    if (doc instanceof Events) {
      for await (const update of doc.history()) return (update[0] as unknown[])[1]
      return undefined
    }
    if (doc instanceof Value) return await doc.get()
    if (doc instanceof Counter) return await doc.value()
    return undefined
  })
}

test('a collection creating documents of every type under maxOpen while a peer syncs into it, SIGKILLed again and again, loses no acknowledged document', async (t) => {
  const server = new Collection({ db: await tempDir(t), maxOpen: 20 })
  await server.open()
  t.teardown(async () => { await server.close() })
  for (let i = 0; i < 200; i++) await server.use(`server/${i}`, async (doc: Model) => { await doc.set('k', i) }, Model)
  const listener = await listen(server.target(), { port: 0 })
  t.teardown(async () => { await listener.close() })
  const dir = await tempDir(t)
  const random = seededRandom(7)
  const acked: string[] = []
  for (let round = 0; round < ROUNDS; round++) {
    const child = spawn(process.execPath, [CHILD, dir, String(listener.address.port), String(round)], { stdio: ['ignore', 'pipe', 'inherit'] })
    const exited = once(child, 'close')
    let rest = ''
    let mine = 0
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n')
      rest = lines.pop() ?? ''
      for (const line of lines) if (line.startsWith('ack ')) { acked.push(line.slice(4)); mine++ }
    })
    const target = 5 + Math.floor(random() * 200)
    const reached = await until(() => mine >= target, 30_000)
    child.kill('SIGKILL')
    await exited
    t.ok(reached, `round ${round}: killed after ${mine} documents acknowledged`)
    await until(() => listener.connections.length === 0)
  }
  const revived = new Collection({ db: dir, maxOpen: 5 })
  await revived.open()
  t.teardown(async () => { await revived.close() })
  const names = revived.names()
  t.equal(new Set(names).size, names.length, 'names() lists each document once')
  const missing: string[] = []
  for (const name of acked) {
    const [, type, i] = name.split('/')
    if (revived.typeOf(name) !== type) { missing.push(`${name}: type ${String(revived.typeOf(name))}`); continue }
    const value = await read(revived, name)
    if (value !== Number(i)) missing.push(`${name}: ${JSON.stringify(value)}`)
  }
  t.deepEqual(missing.slice(0, 10), [], `every acknowledged document is there with its type and first write (${acked.length})`)
  const client = connect(revived.target(), { port: listener.address.port, minDelay: 10, maxDelay: 50 })
  t.teardown(async () => { await client.close() })
  const [connection] = await once(client, 'synced') as [Connection]
  await quiet([connection.streams[0] as unknown as CollectionStream], 200)
  const differ = differences(await snapshot(revived), await snapshot(server))
  t.deepEqual(differ.slice(0, 10), [], 'after a reconnect both hold the same documents and histories')
})
