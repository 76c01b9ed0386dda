// Connection authentication (authenticate / authenticateSocket) over real TCP and
// TLS on 127.0.0.1: accepted peers replicate over the same socket afterwards;
// every refusal is a coded error on both ends and a closed connection.
import { execFile } from 'node:child_process'
import { sign as cryptoSign } from 'node:crypto'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import net from 'node:net'
import { join } from 'node:path'
import { pipeline, type Duplex } from 'node:stream'
import tls from 'node:tls'
import { promisify } from 'node:util'
import test, { type Test } from 'tape'
import {
  AUTH_PROTOCOL, authenticate, authenticateSocket, generateKeys, securityCodes, securityOptions,
  type AuthenticateOptions, type KeyPair, type PeerIdentity, type Side
} from '../lib/index.js'
import { pack, unpack } from '../lib/msgpack.js'
import { tempDir } from './helpers.js'
import { frame, securedModel, tcpPair } from './security-helpers.js'

/** Run the handshake on one end; resolves with the peer's identity or the error code. */
async function settle (socket: Duplex, side: Side, options: AuthenticateOptions): Promise<PeerIdentity | string> {
  try {
    return await authenticateSocket(socket, side, options)
  } catch (err) {
    return (err as { code: string }).code
  }
}

/** Resolves once the socket has closed (a refused peer is disconnected). */
async function closed (socket: net.Socket): Promise<boolean> {
  if (socket.destroyed) return true
  await once(socket, 'close')
  return true
}

/** A hand-written peer: frames in and out, to play impostors. */
function raw (socket: net.Socket): { send: (v: unknown) => void, next: () => Promise<Record<string, unknown>> } {
  let buf = Buffer.alloc(0)
  const waiting: Array<() => void> = []
  socket.on('data', (chunk: Buffer) => { buf = Buffer.concat([buf, chunk]); waiting.splice(0).forEach((f) => { f() }) })
  socket.on('close', () => { waiting.splice(0).forEach((f) => { f() }) })
  const next = async (): Promise<Record<string, unknown>> => {
    while (buf.length < 4 || buf.length < 4 + buf.readUInt32BE(0)) {
      if (socket.destroyed) throw new Error('closed')
      await new Promise<void>((resolve) => waiting.push(resolve))
    }
    const end = 4 + buf.readUInt32BE(0)
    const value = unpack(buf.subarray(4, end)) as Record<string, unknown>
    buf = buf.subarray(end)
    return value
  }
  return { send: (v) => socket.write(frame(v)), next }
}

/** What an honest side signs (see lib/security/handshake.ts): protocol, role, the peer's nonce, its own, the TLS binding. */
function proof (keys: KeyPair, role: Side, challenge: Uint8Array, own: Uint8Array): { key: Buffer, sig: Buffer } {
  const bytes = pack([AUTH_PROTOCOL, role, Buffer.from(challenge), Buffer.from(own), Buffer.alloc(0)])
  return { key: keys.publicKeyDer, sig: cryptoSign(keys.type === 'ed25519' ? null : 'sha256', bytes, keys.privateKey) }
}

test('both ends prove their ids, then replicate over the same TCP connection', async (t) => {
  const [keysS, keysC] = [generateKeys(), generateKeys()]
  const [client, server] = await tcpPair(t)
  const seen: string[] = []
  const handshakeS = authenticate({ keys: keysS, allow: [keysC.id], onPeer: (peer) => seen.push(peer.id) })
  const [s, c] = await Promise.all([handshakeS(server, 'server'), settle(client, 'client', { keys: keysC, allow: [keysS.id] })])
  t.equal(s, undefined, 'the server handshake resolves')
  t.deepEqual(c, { id: keysS.id, type: 'ed25519' }, 'the client learns the server id')
  t.deepEqual(seen, [keysC.id], 'the server learns the client id')
  const ms = await securedModel(t, keysS)
  const mc = await securedModel(t, keysC)
  await ms.set('from-server', 1)
  await mc.set('from-client', 2)
  const ss = ms.createStream()
  const sc = mc.createStream()
  pipeline(ss, server, ss, () => {})
  pipeline(sc, client, sc, () => {})
  await Promise.all([once(ss, 'sync'), once(sc, 'sync')])
  t.equal(await mc.get('from-server'), 1, 'replication runs after the handshake')
  t.equal(await ms.get('from-server'), 1)
  t.equal(await ms.get('from-client'), 2)
})

test('bytes the peer sends right after its verdict are left for replication', async (t) => {
  const [keysS, keysC] = [generateKeys(), generateKeys()]
  const [client, server] = await tcpPair(t)
  const peer = raw(server)
  const done = settle(client, 'client', { keys: keysC })
  const nonce = Buffer.alloc(32, 7)
  peer.send({ auth: AUTH_PROTOCOL, nonce })
  const hello = await peer.next()
  peer.send(proof(keysS, 'server', hello.nonce as Uint8Array, nonce))
  await peer.next()
  t.equal((await peer.next()).ok, true, 'the client accepted')
  // The verdict and the first replication frame in one write.
  server.write(Buffer.concat([frame({ ok: true }), frame({ id: keysS.id, clock: {} })]))
  t.deepEqual(await done, { id: keysS.id, type: 'ed25519' })
  const [chunk] = await once(client, 'data') as [Buffer]
  t.deepEqual(unpack(chunk.subarray(4)), { id: keysS.id, clock: {} }, 'the replication header is still there to read')
})

test('a peer not on the allow-list is refused: AUTH_DENIED here, AUTH_REJECTED there, connection closed', async (t) => {
  for (const refuser of ['server', 'client'] as const) {
    const [keysS, keysC] = [generateKeys(), generateKeys()]
    const [client, server] = await tcpPair(t)
    const stranger = [generateKeys().id]
    const [s, c] = await Promise.all([
      settle(server, 'server', { keys: keysS, allow: refuser === 'server' ? stranger : undefined }),
      settle(client, 'client', { keys: keysC, allow: refuser === 'client' ? stranger : undefined })
    ])
    t.equal(refuser === 'server' ? s : c, securityCodes.AUTH_DENIED, `the ${refuser} denies`)
    t.equal(refuser === 'server' ? c : s, securityCodes.AUTH_REJECTED, 'the other end learns it was refused')
    t.ok(await closed(server) && await closed(client), 'both sockets close')
  }
})

test('an async allow-list is awaited, and one that throws admits no one', async (t) => {
  const [keysS, keysC] = [generateKeys(), generateKeys()]
  for (const [name, allow, expected] of [
    ['resolves true', async (id: string) => id === keysC.id, 'accepted'],
    ['throws', async () => { throw new Error('directory unreachable') }, securityCodes.AUTH_DENIED]
  ] as const) {
    const [client, server] = await tcpPair(t)
    const [s] = await Promise.all([settle(server, 'server', { keys: keysS, allow }), settle(client, 'client', { keys: keysC })])
    t.equal(typeof s === 'string' ? s : 'accepted', expected, `an allow-list that ${name}`)
  }
})

test('an impostor with the victim public key but not its private key fails: AUTH_FAILED', async (t) => {
  const [keysS, victim, impostor] = [generateKeys(), generateKeys(), generateKeys()]
  const [client, server] = await tcpPair(t)
  const done = settle(server, 'server', { keys: keysS, allow: [victim.id] })
  const peer = raw(client)
  const nonce = Buffer.alloc(32, 1)
  peer.send({ auth: AUTH_PROTOCOL, nonce })
  const hello = await peer.next()
  peer.send({ key: victim.publicKeyDer, sig: proof(impostor, 'client', hello.nonce as Uint8Array, nonce).sig })
  t.equal(await done, securityCodes.AUTH_FAILED, 'the server refuses the proof')
  await peer.next()
  t.deepEqual(await peer.next(), { ok: false, code: securityCodes.AUTH_FAILED }, 'and tells the impostor why')
  t.ok(await closed(client), 'then closes the connection')
})

test('a recorded proof replayed on a new connection fails (a fresh challenge each time)', async (t) => {
  const [keysS, victim] = [generateKeys(), generateKeys()]
  const nonce = Buffer.alloc(32, 2)
  let recorded: { key: Buffer, sig: Buffer } | undefined
  for (const attempt of ['genuine', 'replay'] as const) {
    const [client, server] = await tcpPair(t)
    const done = settle(server, 'server', { keys: keysS, allow: [victim.id] })
    const peer = raw(client)
    peer.send({ auth: AUTH_PROTOCOL, nonce })
    const hello = await peer.next()
    await peer.next()
    recorded ??= proof(victim, 'client', hello.nonce as Uint8Array, nonce)
    peer.send(recorded)
    if (attempt === 'genuine') peer.send({ ok: true })
    const result = await done
    t.equal(typeof result === 'string' ? result : 'accepted', attempt === 'genuine' ? 'accepted' : securityCodes.AUTH_FAILED, `${attempt}: ${attempt === 'genuine' ? 'accepted' : 'refused'}`)
  }
})

test('a small-order key with a trivial signature fails the handshake', async (t) => {
  const [client, server] = await tcpPair(t)
  const done = settle(server, 'server', { keys: generateKeys() })
  const peer = raw(client)
  peer.send({ auth: AUTH_PROTOCOL, nonce: Buffer.alloc(32, 3) })
  await peer.next()
  await peer.next()
  const identity = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from([1]), Buffer.alloc(31)])
  peer.send({ key: identity, sig: Buffer.concat([Buffer.from([1]), Buffer.alloc(63)]) })
  t.equal(await done, securityCodes.AUTH_FAILED)
})

test('protocol errors: a plain replication peer, two clients, a silent peer, a peer that hangs up', async (t) => {
  const keys = generateKeys()
  {
    const [client, server] = await tcpPair(t)
    const m = await securedModel(t, generateKeys())
    const s = m.createStream()
    pipeline(s, client, s, () => {})
    t.equal(await settle(server, 'server', { keys }), securityCodes.AUTH_PROTOCOL, 'a peer that starts replicating: AUTH_PROTOCOL')
    t.ok(await closed(server), 'and it is disconnected')
  }
  {
    const [client, server] = await tcpPair(t)
    const both = await Promise.all([settle(server, 'client', { keys }), settle(client, 'client', { keys: generateKeys() })])
    t.deepEqual(both, [securityCodes.AUTH_FAILED, securityCodes.AUTH_FAILED], 'both ends claiming the client role: each proof is bound to its role')
  }
  {
    const [, server] = await tcpPair(t)
    t.equal(await settle(server, 'server', { keys, timeout: 100 }), securityCodes.AUTH_TIMEOUT, 'a silent peer: AUTH_TIMEOUT')
    t.ok(await closed(server), 'and it is disconnected')
  }
  {
    const [client, server] = await tcpPair(t)
    const done = settle(server, 'server', { keys })
    client.end()
    t.equal(await done, securityCodes.AUTH_CLOSED, 'a peer that hangs up: AUTH_CLOSED')
  }
})

/** A self-signed certificate from the openssl command (Node cannot make one itself). */
async function certificate (t: Test): Promise<{ key: Buffer, cert: Buffer }> {
  const dir = await tempDir(t)
  await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost'])
  return { key: await readFile(join(dir, 'key.pem')), cert: await readFile(join(dir, 'cert.pem')) }
}

/** A TLS server on 127.0.0.1 whose connections are handed to `onSocket`; closed with the test. */
async function tlsServer (t: Test, cert: { key: Buffer, cert: Buffer }, onSocket: (s: tls.TLSSocket) => void): Promise<number> {
  const sockets: net.Socket[] = []
  const server = tls.createServer(cert, (s) => { sockets.push(s); onSocket(s) })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => { sockets.forEach((s) => s.destroy()); await new Promise((resolve) => server.close(resolve)) })
  return (server.address() as net.AddressInfo).port
}

async function tlsConnect (t: Test, port: number): Promise<tls.TLSSocket> {
  const socket = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false })
  t.teardown(() => { socket.destroy() })
  await once(socket, 'secureConnect')
  return socket
}

test('over TLS the proofs are bound to the session: a direct peer passes, a TLS-terminating relay fails', async (t) => {
  const cert = await certificate(t)
  const [keysS, keysC] = [generateKeys(), generateKeys()]
  let serverResult: Promise<PeerIdentity | string> | undefined
  const port = await tlsServer(t, cert, (s) => { serverResult = settle(s, 'server', { keys: keysS, allow: [keysC.id] }) })
  const direct = await settle(await tlsConnect(t, port), 'client', { keys: keysC, allow: [keysS.id] })
  t.deepEqual(direct, { id: keysS.id, type: 'ed25519' }, 'a direct TLS connection authenticates')
  t.deepEqual(await serverResult, { id: keysC.id, type: 'ed25519' })

  // The man in the middle terminates the client's TLS and opens its own to the server, relaying bytes.
  const relayPort = await tlsServer(t, cert, (inbound) => {
    void tlsConnect(t, port).then((outbound) => { inbound.pipe(outbound).pipe(inbound) })
  })
  const relayed = await settle(await tlsConnect(t, relayPort), 'client', { keys: keysC, allow: [keysS.id] })
  t.equal(relayed, securityCodes.AUTH_FAILED, 'through the relay the client refuses the server proof')
  t.equal(await serverResult, securityCodes.AUTH_FAILED, 'and the server refuses the client proof')
})
