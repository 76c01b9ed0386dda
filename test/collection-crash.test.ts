import test from 'tape'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { Collection, Model, connect, listen, type CollectionStream, type Connection } from '../lib/index.js'
import { differences, quiet, snapshot } from './collection-helpers.js'
import { tempDir, until } from './helpers.js'

const CHILD = join(import.meta.dirname, 'fixtures', 'collection-child.js')
const DOCS = Number(process.env.COLLECTION_CRASH_DOCS ?? 150)

test('collection crash: SIGKILL mid-sync, then a reconnect converges and loses nothing acknowledged', async (t) => {
  const server = new Collection({ db: await tempDir(t), maxOpen: 50 })
  await server.open()
  t.teardown(async () => { await server.close() })
  await Promise.all(Array.from({ length: DOCS }, async (_, i) => {
    await server.use(`server/${i}`, async (doc: Model) => { await doc.batch(Array.from({ length: 10 }, (_, k) => ({ type: 'put' as const, key: `k${k}`, value: i * 10 + k }))) }, Model)
  }))
  const listener = await listen(server.target(), { port: 0 })
  t.teardown(async () => { await listener.close() })
  const childDir = await tempDir(t)
  const child = spawn(process.execPath, [CHILD, childDir, String(listener.address.port)], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = once(child, 'close')
  let acked = -1
  child.stdout.setEncoding('utf8')
  let rest = ''
  child.stdout.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n')
    rest = lines.pop() ?? ''
    for (const line of lines) if (line.startsWith('ack ')) acked = Number(line.slice(4))
  })
  // Kill it once the server has sent part of its documents and the child has acknowledged writes of its own.
  const sent = (): number => listener.connections.reduce((n, c) => n + ((c.streams[0] as unknown as CollectionStream | undefined)?.counts.updatesSent ?? 0), 0)
  const midway = await until(() => sent() >= DOCS * 3 && acked >= 20, 30_000)
  const sentBefore = sent()
  child.kill('SIGKILL')
  await exited
  t.ok(midway, `killed mid-sync (${sentBefore} of ${DOCS * 10} updates sent, ${acked + 1} writes acknowledged)`)
  t.ok(await until(() => listener.connections.length === 0), 'the server saw the connection go')

  // The child's database, reopened here: it recovers and syncs again.
  const revived = new Collection({ db: childDir, maxOpen: 20 })
  await revived.open()
  t.teardown(async () => { await revived.close() })
  const client = connect(revived.target(), { port: listener.address.port, minDelay: 10, maxDelay: 50 })
  t.teardown(async () => { await client.close() })
  const [connection] = await once(client, 'synced') as [Connection]
  await quiet([connection.streams[0] as unknown as CollectionStream], 100)
  let lost = 0
  for (let i = 0; i <= acked; i++) {
    const value = await revived.use(`child/${i % 50}`, async (doc: Model) => await doc.get(`k${i}`), Model)
    if (value !== i) lost++
  }
  t.equal(lost, 0, `every acknowledged write survived (${acked + 1})`)
  const [mine, theirs] = [await snapshot(revived), await snapshot(server)]
  const differ = differences(mine, theirs)
  t.deepEqual(differ, [], 'both hold the same documents and histories')
  for (const name of differ.slice(0, 3)) t.comment(`${name}: child ${JSON.stringify(mine[name])} server ${JSON.stringify(theirs[name])}`)
})
