// A client without a handshake that connects to a listener running
// authenticate() learns that the listener requires authentication
// (SCUTTLEDB_AUTH_PROTOCOL), not that the peer sent a malformed header or mux
// hello; on TCP and WebSocket, plain and multiplexed.
import { once } from 'node:events'
import test from 'tape'
import {
  authenticate, connect, connectWebSocket, generateKeys, listen, listenWebSocket, securityCodes,
  type Model, type ReplicationClient, type Target
} from '../lib/index.js'
import { memoryModel } from './helpers.js'

for (const transport of ['tcp', 'ws'] as const) {
  for (const multiplexed of [false, true]) {
    test(`connect${transport === 'ws' ? 'WebSocket' : ''}() without a handshake to an authenticate() listener${multiplexed ? ' ({ docs })' : ''} fails with SCUTTLEDB_AUTH_PROTOCOL`, async (t) => {
      const served = await memoryModel(t)
      await served.set('secret', 1)
      const mine: Model = await memoryModel(t)
      const options = { handshake: authenticate({ keys: generateKeys() }) }
      const target: Target = multiplexed ? { docs: { main: served } } : served
      const server = transport === 'tcp' ? await listen(target, options) : await listenWebSocket(target, options)
      t.teardown(async () => { await server.close() })
      const local: Target = multiplexed ? { docs: { main: mine } } : mine
      const client: ReplicationClient = transport === 'tcp'
        ? connect(local, { port: server.address.port, reconnect: false })
        : connectWebSocket(local, { url: server.address.url, reconnect: false })
      t.teardown(async () => { await client.close() })
      const [err] = await once(client, 'disconnected') as [{ code?: string } | undefined]
      t.equal(err?.code, securityCodes.AUTH_PROTOCOL, 'the client is told the listener requires authentication')
      t.equal(await mine.get('secret'), undefined, 'and received nothing')
    })
  }
}
