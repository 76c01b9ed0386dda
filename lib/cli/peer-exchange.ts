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
 * in the socket's buffer for the replication stream.
 */
async function readUpTo (socket: Duplex, n: number): Promise<Buffer> {
  return await readUntil(socket, (length) => length >= n ? n : undefined)
}

/**
 * Whether the peer's first bytes are MAGIC (then consumed). Decided at the first
 * byte that differs from it, and the bytes are put back in the tick they were
 * read: a peer that does not exchange begins with a frame length (a 0 byte) or
 * `{` and replicates at once, even one that sends less than MAGIC's length and
 * waits (its first message cut short, or one that sends only a frame prefix).
 * Once the last bytes of an ended stream are read its 'end' is due on the next
 * tick, and putting them back after that fails (and destroys the socket).
 */
async function readMagic (socket: Duplex): Promise<boolean> {
  const got = await readUntil(socket, (length, read) => {
    const bytes = read()
    const prefix = Math.min(length, MAGIC.length)
    if (!bytes.subarray(0, prefix).equals(MAGIC.subarray(0, prefix))) return 0
    return bytes.length >= MAGIC.length ? MAGIC.length : undefined
  })
  return got.equals(MAGIC)
}

/**
 * Read what arrives until `take(how many bytes so far, those bytes)` says how
 * many of them to keep (the rest are put back at once); at the end of the
 * stream, what was read. The chunks are joined only when asked for, not with
 * every chunk: a peer sending a byte at a time would cost the square of a frame.
 */
async function readUntil (socket: Duplex, take: (length: number, read: () => Buffer) => number | undefined): Promise<Buffer> {
  return await new Promise<Buffer>((resolve, reject) => {
    let parts: Buffer[] = []
    let length = 0
    const joined = (): Buffer => {
      if (parts.length > 1) parts = [Buffer.concat(parts, length)]
      return parts[0] ?? Buffer.alloc(0)
    }
    const cleanup = (): void => {
      socket.off('readable', tryRead)
      socket.off('end', onEnd)
      socket.off('close', onEnd)
      socket.off('error', onError)
    }
    const done = (keep: number): void => {
      cleanup()
      const got = joined()
      if (keep < got.length && !socket.destroyed) socket.unshift(got.subarray(keep))
      resolve(got.subarray(0, keep))
    }
    // What is left (if anything) comes out of a read() once ended.
    const onEnd = (): void => {
      const rest = socket.read() as Buffer | null
      if (rest !== null) {
        parts.push(rest)
        length += rest.length
      }
      cleanup()
      resolve(joined())
    }
    const onError = (err: Error): void => {
      cleanup()
      reject(netError(netCodes.PEX_PROTOCOL, 'The connection failed during peer exchange', err))
    }
    function tryRead (): void {
      const chunk = socket.read() as Buffer | null
      if (chunk === null) {
        if (socket.readableEnded || socket.destroyed) onEnd()
        return
      }
      parts.push(chunk)
      length += chunk.length
      const keep = take(length, joined)
      if (keep !== undefined) done(keep)
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
  if (!await readMagic(socket)) {
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
  if (!await readMagic(socket)) return undefined
  const theirs = await readBody(socket)
  socket.write(encode(reply(theirs)))
  return theirs
}
