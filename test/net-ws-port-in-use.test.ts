// listenWebSocket() on a port in use rejected nothing: ws re-emitted the http server's error on the
// WebSocketServer before its error listener was attached, and the process died.
import net from 'node:net'
import { once } from 'node:events'
import test from 'tape'
import { listenWebSocket } from '../lib/index.js'
import { captureUncaught, memoryModel } from './helpers.js'

test('listenWebSocket() on a port in use rejects with SCUTTLEDB_ADDRESS_IN_USE and nothing is thrown uncaught', async (t) => {
  const uncaught = captureUncaught(t)
  const model = await memoryModel(t)
  const blocker = net.createServer().listen(0, '127.0.0.1')
  await once(blocker, 'listening')
  t.teardown(() => { blocker.close() })
  const { port } = blocker.address() as net.AddressInfo
  await listenWebSocket(model, { port }).then(async (server) => { t.fail('listened'); await server.close() }, (err) => { t.equal(err.code, 'SCUTTLEDB_ADDRESS_IN_USE', 'coded rejection') })
  await new Promise((resolve) => setImmediate(resolve))
  t.deepEqual(uncaught, [], 'nothing uncaught')
})
