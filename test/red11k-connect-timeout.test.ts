import test from 'tape'
import { WebSocket } from 'ws'
import { connectWebSocket as browserConnectWebSocket, type BrowserWebSocketConstructor } from '../lib/browser.js'
import { connect, connectWebSocket, listen, type ReplicationClient } from '../lib/index.js'
import { memoryModel, tempDir } from './helpers.js'
import { freePort, runCli } from './fixtures/net-helpers.js'

// connectTimeout reached setTimeout() unchecked: false (as handshakeTimeout and
// idleTimeout take to mean "never"), Infinity, a string, 0 or a negative number all
// became a 1 ms timer, so an attempt that takes longer than 1 ms (any real network,
// TLS) failed with SCUTTLEDB_CONNECT_TIMEOUT every time and the client never connected.
// A wrong option is a TypeError at the call, as the browser client already did for 0.
const Ws = WebSocket as unknown as BrowserWebSocketConstructor
const wrong: unknown[] = [false, null, 'x', '5000', -5, 0, Number.NaN, Infinity, 2 ** 32]

test('connect() and connectWebSocket() refuse a connectTimeout that is not a usable number of ms', async (t) => {
  const model = await memoryModel(t)
  const dialers: Array<[string, (connectTimeout: unknown) => ReplicationClient]> = [
    ['connect', (connectTimeout) => connect(model, { port: 1, connectTimeout } as unknown as Parameters<typeof connect>[1])],
    ['connectWebSocket', (connectTimeout) => connectWebSocket(model, { url: 'ws://127.0.0.1:1/', connectTimeout } as unknown as Parameters<typeof connectWebSocket>[1])],
    ['browser connectWebSocket', (connectTimeout) => browserConnectWebSocket(model, { url: 'ws://127.0.0.1:1/', WebSocket: Ws, connectTimeout } as unknown as Parameters<typeof browserConnectWebSocket>[1])]
  ]
  for (const [name, dial] of dialers) {
    for (const value of wrong) {
      let client: ReplicationClient | undefined
      try {
        client = dial(value)
      } catch (err) {
        t.ok(err instanceof TypeError, `${name} with connectTimeout ${String(value)}: a TypeError`)
        continue
      }
      t.fail(`${name} accepted connectTimeout ${String(value)}`)
      await client.close()
    }
  }
})

test('a timer option longer than setTimeout() keeps is a TypeError, not a 1 ms timer', async (t) => {
  const model = await memoryModel(t)
  for (const option of ['handshakeTimeout', 'keepAlive', 'idleTimeout']) {
    t.throws(() => connect(model, { port: 1, [option]: 2 ** 32 }), TypeError, `${option} 2 ** 32`)
  }
})

test('connect() still takes a positive connectTimeout and connects', async (t) => {
  const a = await memoryModel(t)
  const b = await memoryModel(t)
  const server = await listen(a, { port: 0 })
  t.teardown(async () => { await server.close() })
  const client = connect(b, { port: server.address.port, connectTimeout: 5000 })
  t.teardown(async () => { await client.close() })
  const synced = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => { resolve(false) }, 5000)
    client.once('synced', () => { clearTimeout(timer); resolve(true) })
  })
  t.ok(synced, 'synced')
})

test('scuttledb serve refuses a timer option longer than setTimeout() keeps with SCUTTLEDB_USAGE', async (t) => {
  // 99999999999 ms passed --idle-timeout's check and became a 1 ms timer in the
  // connections (or, with the library's check above, a TypeError without a code).
  const dir = await tempDir(t)
  const port = await freePort()
  const http = await freePort()
  const { code, stderr } = await runCli(['serve', '--db', dir, '--port', String(port), '--http', String(http), '--idle-timeout', '99999999999'])
  t.equal(code, 2, 'exits with the usage status')
  t.ok(stderr.includes('SCUTTLEDB_USAGE'), `a usage error: ${stderr.trim()}`)
})
