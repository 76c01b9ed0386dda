// A peer refused by the authenticated handshake learns why (SCUTTLEDB_AUTH_REJECTED
// as the cause of its HANDSHAKE_FAILED) on every transport, whichever side refuses.
import { once } from 'node:events'
import test, { type Test } from 'tape'
import { WebSocket } from 'ws'
import {
  authenticate, authenticateBrowser, connect, connectWebSocket, generateBrowserKeys, generateKeys, listen, listenWebSocket,
  netCodes, securityCodes, type ReplicationClient, type ReplicationServer
} from '../lib/index.js'
import { connectWebSocket as browserConnect, type BrowserWebSocketConstructor } from '../lib/browser.js'
import { memoryModel } from './helpers.js'

/** The codes of an error and its causes, outermost first. */
function codes (err: unknown): string[] {
  const out: string[] = []
  for (let e: unknown = err; e instanceof Error; e = e.cause) out.push(String((e as { code?: unknown }).code))
  return out
}

/** 'browser': the browser entry's connectWebSocket and authenticateBrowser (on Node, with ws as its WebSocket). */
type Transport = 'tcp' | 'ws' | 'browser'

/** A server and a client on `transport`, one of which refuses the other's key; resolves with both ends' errors. */
async function refusal (t: Test, transport: Transport, refuser: 'server' | 'client'): Promise<{ client: unknown, server: unknown }> {
  const keysS = generateKeys()
  const stranger = generateKeys().id
  const a = await memoryModel(t)
  const b = await memoryModel(t)
  // The client's keys and handshake: Node's authenticate(), or the browser entry's authenticateBrowser().
  const nodeKeys = generateKeys()
  const browserKeys = generateBrowserKeys()
  const clientId = transport === 'browser' ? browserKeys.id : nodeKeys.id
  const allow = [refuser === 'client' ? stranger : keysS.id]
  const handshake = transport === 'browser' ? authenticateBrowser({ keys: browserKeys, allow }) : authenticate({ keys: nodeKeys, allow })

  const serverOptions = { port: 0, handshake: authenticate({ keys: keysS, allow: [refuser === 'server' ? stranger : clientId] }) }
  const server: ReplicationServer = transport === 'tcp' ? await listen(a, serverOptions) : await listenWebSocket(a, serverOptions)
  t.teardown(async () => { await server.close() })
  const disconnect = once(server, 'disconnect') as Promise<[unknown, unknown]>
  const client: ReplicationClient = transport === 'tcp'
    ? connect(b, { handshake, reconnect: false, port: server.address.port })
    : transport === 'ws'
      ? connectWebSocket(b, { handshake, reconnect: false, url: server.address.url })
      : browserConnect(b, { handshake, reconnect: false, url: server.address.url, WebSocket: WebSocket as unknown as BrowserWebSocketConstructor })
  t.teardown(async () => { await client.close() })
  const [[clientErr], [, serverErr]] = await Promise.all([once(client, 'disconnected') as Promise<[unknown]>, disconnect])
  return { client: clientErr, server: serverErr }
}

for (const transport of ['tcp', 'ws', 'browser'] as const) {
  test(`over ${transport}, a client the server refuses is told so: AUTH_REJECTED on the client, AUTH_DENIED on the server`, async (t) => {
    const { client, server } = await refusal(t, transport, 'server')
    t.deepEqual(codes(client), [netCodes.HANDSHAKE_FAILED, securityCodes.AUTH_REJECTED], 'the client learns it was refused')
    t.deepEqual(codes(server), [netCodes.HANDSHAKE_FAILED, securityCodes.AUTH_DENIED], 'the server reports its denial')
  })

  test(`over ${transport}, a server the client refuses is told so: AUTH_REJECTED on the server, AUTH_DENIED on the client`, async (t) => {
    const { client, server } = await refusal(t, transport, 'client')
    t.deepEqual(codes(server), [netCodes.HANDSHAKE_FAILED, securityCodes.AUTH_REJECTED], 'the server learns it was refused')
    t.deepEqual(codes(client), [netCodes.HANDSHAKE_FAILED, securityCodes.AUTH_DENIED], 'the client reports its denial')
  })
}
