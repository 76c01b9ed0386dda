// A listen() server of a collection's target() kept its port after the collection closed,
// so a script that closed its Collection (but not the server) never exited.
import { once } from 'node:events'
import test from 'tape'
import { MemoryLevel } from 'memory-level'
import { Collection, listen } from '../lib/index.js'

test('a listen() server of a collection\'s target() closes once the collection has closed', async (t) => {
  const collection = new Collection({ db: new MemoryLevel() })
  await collection.open()
  const server = await listen(collection.target(), { port: 0 })
  const closed = once(server, 'close')
  await collection.close()
  // A deadline, not a speed check: without the fix the server never closes.
  let timer: NodeJS.Timeout | undefined
  const outcome = await Promise.race([closed.then(() => 'closed'), new Promise((resolve) => { timer = setTimeout(() => resolve('still open after 5 s'), 5000) })])
  clearTimeout(timer)
  t.equal(outcome, 'closed', 'the server closed with its collection')
  t.ok(server.closing, 'and says so')
  await server.close()
})
