// A peer that says nothing during the authenticated handshake: when the handshake's
// own timeout and the connection's handshakeTimeout are equal (as `scuttledb serve`
// sets them), the handshake's verdict still wins: the node reports
// HANDSHAKE_FAILED caused by AUTH_TIMEOUT, and the silent peer is told AUTH_TIMEOUT.
import { once } from 'node:events'
import net from 'node:net'
import test from 'tape'
import { WebSocket } from 'ws'
import { authenticate, generateKeys, listen, listenWebSocket, netCodes, securityCodes, type ReplicationServer } from '../lib/index.js'
import { unpack } from '../lib/msgpack.js'
import { memoryModel } from './helpers.js'

/** The codes of an error and its causes, outermost first. */
function codes (err: unknown): string[] {
  const out: string[] = []
  for (let e: unknown = err; e instanceof Error; e = e.cause) out.push(String((e as { code?: unknown }).code))
  return out
}

/** The handshake frames in `bytes` (u32 BE length, then msgpack). */
function framesIn (bytes: Buffer): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = []
  for (let at = 0; at + 4 <= bytes.length && at + 4 + bytes.readUInt32BE(at) <= bytes.length; at += 4 + bytes.readUInt32BE(at)) {
    out.push(unpack(bytes.subarray(at + 4, at + 4 + bytes.readUInt32BE(at))) as Record<string, unknown>)
  }
  return out
}

const TIMEOUT = 300

for (const transport of ['tcp', 'ws'] as const) {
  test(`over ${transport}, a silent peer times out with AUTH_TIMEOUT as the cause, and is told so`, async (t) => {
    const model = await memoryModel(t)
    const options = { port: 0, handshakeTimeout: TIMEOUT, handshake: authenticate({ keys: generateKeys(), timeout: TIMEOUT }) }
    const server: ReplicationServer = transport === 'tcp' ? await listen(model, options) : await listenWebSocket(model, options)
    t.teardown(async () => { await server.close() })
    const dropped = once(server, 'disconnect') as Promise<[unknown, unknown]>
    const received: Buffer[] = []
    let closed: Promise<unknown>
    if (transport === 'tcp') {
      const socket = net.connect(server.address.port, '127.0.0.1')
      socket.on('error', () => {})
      socket.on('data', (chunk: Buffer) => { received.push(chunk) })
      closed = once(socket, 'close')
      t.teardown(() => { socket.destroy() })
    } else {
      const ws = new WebSocket(server.address.url)
      ws.on('error', () => {})
      ws.on('message', (data: Buffer) => { received.push(data) })
      closed = once(ws, 'close')
      t.teardown(() => { ws.terminate() })
    }
    const [, err] = await dropped
    t.deepEqual(codes(err), [netCodes.HANDSHAKE_FAILED, securityCodes.AUTH_TIMEOUT], 'the node reports the handshake\'s own timeout as the cause')
    await closed
    const frames = framesIn(Buffer.concat(received))
    t.deepEqual(frames.at(-1), { ok: false, code: securityCodes.AUTH_TIMEOUT }, 'the silent peer received the verdict before the close')
  })
}
