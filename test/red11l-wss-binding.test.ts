// Red team round 11, area l (security): docs/security.md says that on a TLS socket
// the handshake proofs include the session's exported keying material, so a relay
// that terminates TLS on each side fails the handshake even if the client did not
// check the certificate. WSS is TLS too, and `--key` runs authenticate() on WSS.
import { once } from 'node:events'
import net from 'node:net'
import tls from 'node:tls'
import test from 'tape'
import { authenticate, connectWebSocket, generateKeys, listenWebSocket, type ReplicationClient } from '../lib/index.js'
import { selfSignedCert } from './fixtures/net-helpers.js'
import { securedModel } from './security-helpers.js'

/** The first outcome of a client: connected, or its first failure. */
async function outcome (c: ReplicationClient): Promise<{ connected: boolean, error?: Error & { code?: string, cause?: unknown } }> {
  return await new Promise((resolve) => {
    const timer = setTimeout(() => { resolve({ connected: false, error: new Error('timed out: neither connected nor failed in 10 s') }) }, 10_000)
    c.once('connected', () => { clearTimeout(timer); resolve({ connected: true }) })
    c.once('disconnected', (err?: Error) => { clearTimeout(timer); resolve({ connected: false, error: err }) })
  })
}

// A documented limit, checked as documented: a page cannot read its TLS session's keys,
// so browser clients (authenticateBrowser) send no binding, and binding WSS on the Node
// side would refuse every browser. docs/security.md says WSS proofs are not bound: a
// client that does not check the certificate can be relayed.
test('documented limit: over WSS a TLS-terminating relay passes the handshake of a client that does not check the certificate', async (t) => {
  const { cert, key } = await selfSignedCert(t)
  const [keysS, keysC] = [generateKeys(), generateKeys()]
  const a = await securedModel(t, keysS)
  const b = await securedModel(t, keysC)
  await a.set('k', 'v')
  const server = await listenWebSocket(a, { port: 0, tls: { cert, key }, handshake: authenticate({ keys: keysS, allow: [keysC.id] }) })
  t.teardown(async () => { await server.close() })

  // Directly (not checking the certificate), the handshake passes.
  const direct = connectWebSocket(b, { url: server.address.url, tls: { rejectUnauthorized: false }, reconnect: false, handshake: authenticate({ keys: keysC, allow: [keysS.id] }) })
  t.deepEqual(await outcome(direct), { connected: true }, 'a direct WSS connection authenticates')
  await direct.close()

  // The man in the middle terminates the client's TLS and opens its own to the server, relaying bytes.
  const sockets: net.Socket[] = []
  const relay = tls.createServer({ cert, key }, (inbound) => {
    sockets.push(inbound)
    const outbound = tls.connect({ port: server.address.port, host: '127.0.0.1', rejectUnauthorized: false })
    sockets.push(outbound)
    outbound.on('error', () => {})
    inbound.on('error', () => {})
    inbound.pipe(outbound).pipe(inbound)
  })
  relay.listen(0, '127.0.0.1')
  await once(relay, 'listening')
  t.teardown(async () => { sockets.forEach((s) => s.destroy()); await new Promise((resolve) => relay.close(resolve)) })
  const port = (relay.address() as net.AddressInfo).port

  const relayed = connectWebSocket(b, { url: `wss://127.0.0.1:${port}/`, tls: { rejectUnauthorized: false }, reconnect: false, handshake: authenticate({ keys: keysC, allow: [keysS.id] }) })
  const result = await outcome(relayed)
  await relayed.close()
  t.deepEqual(result, { connected: true }, 'through the TLS-terminating relay the handshake passes, as docs/security.md says (check the certificate)')
})
