// A connection whose peer refuses it and resets the TCP connection at once reports
// the refusal (HANDSHAKE_FAILED caused by AUTH_REJECTED), not a bare "closed during
// the handshake": the handshake's own verdict wins over the close.
import { sign as cryptoSign } from 'node:crypto'
import { once } from 'node:events'
import net from 'node:net'
import test from 'tape'
import { AUTH_PROTOCOL, authenticate, Connection, generateKeys, netCodes, securityCodes, type KeyPair } from '../lib/index.js'
import { pack, unpack } from '../lib/msgpack.js'
import { frame } from './security-helpers.js'
import { memoryModel, until } from './helpers.js'

/** The codes of an error and its causes, outermost first. */
function codes (err: unknown): string[] {
  const out: string[] = []
  for (let e: unknown = err; e instanceof Error; e = e.cause) out.push(String((e as { code?: unknown }).code))
  return out
}

/** Handshake frames as they arrive on a raw socket, one promise per frame. */
function frames (socket: net.Socket): () => Promise<Record<string, unknown>> {
  let buf = Buffer.alloc(0)
  let wake: (() => void) | undefined
  socket.on('data', (chunk: Buffer) => { buf = Buffer.concat([buf, chunk]); wake?.() })
  return async () => {
    while (buf.length < 4 || buf.length < 4 + buf.readUInt32BE(0)) await new Promise<void>((resolve) => { wake = resolve })
    const end = 4 + buf.readUInt32BE(0)
    const value = unpack(buf.subarray(4, end)) as Record<string, unknown>
    buf = buf.subarray(end)
    return value
  }
}

/** A valid server proof (see lib/security/handshake.ts): protocol, role, the client's nonce, its own, no TLS binding. */
function serverProof (keys: KeyPair, challenge: Uint8Array, own: Buffer): { key: Buffer, sig: Buffer } {
  const bytes = pack(([AUTH_PROTOCOL, 'server', Buffer.from(challenge), own, Buffer.alloc(0)]))
  return { key: keys.publicKeyDer, sig: cryptoSign(null, bytes, keys.privateKey) }
}

test('a peer that refuses and resets while this side\'s allow-list is still deciding: the cause is AUTH_REJECTED', async (t) => {
  const keysS = generateKeys()
  const refusal = frame({ ok: false, code: securityCodes.AUTH_DENIED })
  // A hand-played server: it proves its id, reads the client's proof and refuses it.
  let refused!: (socket: net.Socket) => void
  const accepted = new Promise<net.Socket>((resolve) => { refused = resolve })
  const server = net.createServer((socket) => {
    socket.on('error', () => {})
    const next = frames(socket)
    const nonce = Buffer.alloc(32, 9)
    socket.write(frame({ auth: AUTH_PROTOCOL, nonce }))
    void (async () => {
      const hello = await next()
      socket.write(frame(serverProof(keysS, hello.nonce as Uint8Array, nonce)))
      await next()
      socket.write(refusal)
      refused(socket)
    })()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.close() })
  const model = await memoryModel(t)
  const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
  socket.on('error', () => {})
  await once(socket, 'connect')
  const socketClosed = new Promise((resolve) => { socket.once('close', resolve) })
  // The allow-list answers only once the connection is gone: the refusal and the reset both come first.
  const handshake = authenticate({ keys: generateKeys(), allow: async () => { await socketClosed; return true } })
  const connection = new Connection(model, socket, 'client', { remote: 'raw', transport: 'tcp' }, { handshake })
  t.teardown(() => { connection.close() })
  const peer = await accepted
  t.ok(await until(() => socket.readableLength >= refusal.length), 'the refusal reached the client before the reset')
  peer.resetAndDestroy()
  const err = await connection.closed
  t.deepEqual(codes(err), [netCodes.HANDSHAKE_FAILED, securityCodes.AUTH_REJECTED], 'the connection reports the peer\'s refusal as its cause')
  t.equal(connection.state, 'closed', 'and is closed')
})

test('a peer that resets the connection as the handshake passes is reported as PEER_CLOSED, not as a local close', async (t) => {
  let reset!: () => void
  const server = net.createServer((socket) => {
    socket.on('error', () => {})
    reset = () => { socket.resetAndDestroy() }
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.close() })
  const model = await memoryModel(t)
  const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
  socket.on('error', () => {})
  await once(socket, 'connect')
  // A handshake whose last step ends as the connection does (its answer came with the reset).
  const handshake = async (): Promise<void> => {
    await until(() => reset !== undefined)
    const closed = new Promise((resolve) => { socket.once('close', resolve) })
    reset()
    await closed
  }
  const connection = new Connection(model, socket, 'client', { remote: 'raw', transport: 'tcp' }, { handshake })
  t.teardown(() => { connection.close() })
  const err = await connection.closed
  t.deepEqual(codes(err), [netCodes.PEER_CLOSED, 'ECONNRESET'], 'PEER_CLOSED with the reset as its cause, not SCUTTLEDB_CLOSED: this side closed nothing')
})
