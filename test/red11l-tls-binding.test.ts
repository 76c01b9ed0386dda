// Red team round 11, area l (security): docs/security.md says that on a TLS socket
// the handshake proofs include the session's exported keying material, so a relay
// that terminates TLS on each side fails the handshake even if the client did not
// check the certificate. Tested so far on raw sockets only; here through listen()
// and connect(), as `scuttledb serve --key --tls-cert` uses them (passes; the WSS
// counterpart, red11l-wss-binding, does not).
import { once } from 'node:events'
import net from 'node:net'
import tls from 'node:tls'
import test from 'tape'
import { authenticate, connect, generateKeys, listen, type ReplicationClient } from '../lib/index.js'
import { netCodes } from '../lib/net/errors.js'
import { securityCodes } from '../lib/security/errors.js'
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

test('TLS through lib/net: a TLS-terminating relay fails the authenticated handshake', async (t) => {
  const { cert, key } = await selfSignedCert(t)
  const [keysS, keysC] = [generateKeys(), generateKeys()]
  const a = await securedModel(t, keysS)
  const b = await securedModel(t, keysC)
  await a.set('k', 'v')
  const server = await listen(a, { port: 0, tls: { cert, key }, handshake: authenticate({ keys: keysS, allow: [keysC.id] }) })
  t.teardown(async () => { await server.close() })

  // Directly (not checking the certificate), the handshake passes.
  const direct = connect(b, { port: server.address.port, tls: { rejectUnauthorized: false }, reconnect: false, handshake: authenticate({ keys: keysC, allow: [keysS.id] }) })
  t.deepEqual(await outcome(direct), { connected: true }, 'a direct TLS connection authenticates')
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

  const relayed = connect(b, { port, tls: { rejectUnauthorized: false }, reconnect: false, handshake: authenticate({ keys: keysC, allow: [keysS.id] }) })
  const result = await outcome(relayed)
  await relayed.close()
  t.equal(result.connected, false, 'through the TLS-terminating relay the handshake does not pass')
  t.equal(result.error?.code, netCodes.HANDSHAKE_FAILED, 'the client fails its handshake')
  t.equal((result.error?.cause as { code?: string } | undefined)?.code, securityCodes.AUTH_FAILED, 'because the server proof is bound to another TLS session')
})
