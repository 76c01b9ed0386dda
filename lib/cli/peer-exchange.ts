import type { Duplex } from 'node:stream'
import { pack, unpack } from '../msgpack.js'
import type { Source } from '../protocol.js'
import { netCodes, netError } from '../net/errors.js'
import { MAX_ENTRIES, type WireEntry } from './address-book.js'

/**
 * Peer exchange on the wire: one message each way on a fresh connection, after
 * authentication (if any) and before replication. The dialer writes MAGIC and a
 * frame; a listener that sees MAGIC answers with its own; one that sees anything
 * else (a plain replication header: the dialer does not exchange addresses)
 * puts the bytes back and replicates as before. Frame: u32 BE length, then a
 * msgpack map `{ pex: 1, id, entries }`, entries as in address-book.ts.
 *
 * MAGIC cannot begin a replication stream: a msgpack frame begins with a small
 * big-endian length (a first byte of 0 for any frame under 16 MiB), and the
 * JSON wrapper with `{`. An older listener reads it as a 1.4 GB frame length
 * and refuses it at once, which the dialer sees as no MAGIC in the answer.
 */
export const MAGIC = Buffer.from('SDBPEX1\n', 'latin1')
/** Largest exchange frame: MAX_ENTRIES RSA-8192 entries fit. */
const MAX_FRAME = 256 * 1024

/** One side's message. */
export interface PexMessage {
  /** The sender's node id (with keys: the id its handshake proved). */
  id: Source
  /** Its own entry (first, when it advertises an address) and some it knows. */
  entries: WireEntry[]
}

function encode (message: PexMessage): Buffer {
  const body = pack({ pex: 1, id: message.id, entries: message.entries.slice(0, MAX_ENTRIES) })
  const head = Buffer.alloc(MAGIC.length + 4)
  MAGIC.copy(head, 0)
  head.writeUInt32BE(body.length, MAGIC.length)
  return Buffer.concat([head, body])
}

/**
 * Read `n` bytes (fewer only at the end of the stream), leaving what follows
 * in the socket's buffer for the replication stream. With `peek`, bytes that
 * are not MAGIC are put back at once, in the same tick: once the last bytes of
 * an ended stream are read, its 'end' is due on the next tick, and putting them
 * back after that fails (and destroys the socket).
 */
async function readUpTo (socket: Duplex, n: number, peek = false): Promise<Buffer> {
  return await new Promise<Buffer>((resolve, reject) => {
    const cleanup = (): void => {
      socket.off('readable', tryRead)
      socket.off('end', onEnd)
      socket.off('close', onEnd)
      socket.off('error', onError)
    }
    const done = (chunk: Buffer): void => {
      cleanup()
      if (peek && chunk.length > 0 && !chunk.equals(MAGIC) && !socket.destroyed) socket.unshift(chunk)
      resolve(chunk)
    }
    // What is left (if anything) comes out of a read() once ended.
    const onEnd = (): void => { done((socket.read() as Buffer | null) ?? Buffer.alloc(0)) }
    const onError = (err: Error): void => {
      cleanup()
      reject(netError(netCodes.PEX_PROTOCOL, 'The connection failed during peer exchange', err))
    }
    function tryRead (): void {
      const chunk = socket.read(n) as Buffer | null
      if (chunk === null) {
        if (socket.readableEnded || socket.destroyed) onEnd()
        return
      }
      done(chunk)
    }
    socket.on('readable', tryRead)
    socket.on('end', onEnd)
    socket.on('close', onEnd)
    socket.on('error', onError)
    tryRead()
  })
}

async function readBody (socket: Duplex): Promise<PexMessage> {
  const head = await readUpTo(socket, 4)
  if (head.length < 4) throw netError(netCodes.PEX_PROTOCOL, 'The connection ended during peer exchange')
  const size = head.readUInt32BE(0)
  if (size === 0 || size > MAX_FRAME) throw netError(netCodes.PEX_PROTOCOL, `Bad peer-exchange frame length ${size}`)
  const body = await readUpTo(socket, size)
  if (body.length < size) throw netError(netCodes.PEX_PROTOCOL, 'The connection ended during peer exchange')
  let value: unknown
  try {
    value = unpack(body)
  } catch (err) {
    throw netError(netCodes.PEX_PROTOCOL, 'Undecodable peer-exchange message', err)
  }
  const m = value as { pex?: unknown, id?: unknown, entries?: unknown } | null
  if (m === null || typeof m !== 'object' || m.pex !== 1 || typeof m.id !== 'string' || m.id.length === 0 || m.id.length > 128 || !Array.isArray(m.entries)) {
    throw netError(netCodes.PEX_PROTOCOL, 'Malformed peer-exchange message')
  }
  // Entries are checked one by one by the address book; extra ones are not even looked at.
  return { id: m.id, entries: m.entries.slice(0, MAX_ENTRIES) as WireEntry[] }
}

/** The dialer's side: send ours, read theirs. A peer that answers without MAGIC does not exchange (PEX_PROTOCOL). */
export async function exchangeAsClient (socket: Duplex, mine: PexMessage): Promise<PexMessage> {
  socket.write(encode(mine))
  const magic = await readUpTo(socket, MAGIC.length, true)
  if (!magic.equals(MAGIC)) {
    throw netError(netCodes.PEX_PROTOCOL, 'The peer does not exchange addresses (an older scuttledb, or not a scuttledb node)')
  }
  return await readBody(socket)
}

/**
 * The listener's side: when the dialer's first bytes are MAGIC, read its
 * message and answer with `reply(theirs)`; else put the bytes back and resolve
 * undefined (a dialer without peer exchange).
 */
export async function exchangeAsServer (socket: Duplex, reply: (theirs: PexMessage) => PexMessage): Promise<PexMessage | undefined> {
  const first = await readUpTo(socket, MAGIC.length, true)
  if (!first.equals(MAGIC)) return undefined
  const theirs = await readBody(socket)
  socket.write(encode(reply(theirs)))
  return theirs
}
