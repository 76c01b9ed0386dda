import { Duplex } from 'stream'
import { concat, copy, latin1, readUInt32BE, writeUInt32BE } from '../bytes.js'
import type { ReplicationStream, StreamOptions } from '../stream.js'
import { authRequiredFrame } from './auth-required.js'
import { netCodes, netError, type NetError } from './errors.js'
import { codes, error } from '../errors.js'
import type { DocumentResolver } from './target.js'

/**
 * Multiplexing: several replication streams over one byte stream.
 *
 * Frame: u32 BE length (of everything after it), u8 type, u32 BE channel, payload.
 * The first frame each side sends is HELLO carrying MAGIC. OPEN names a document
 * (UTF-8); DATA carries replication bytes; END ends one direction of a channel;
 * RESET aborts a channel (payload: an error code); CREDIT (u32) lets the peer
 * send more DATA; PING keeps an idle connection alive.
 *
 * Flow control is credit-based, per channel and direction: a side may have at
 * most WINDOW bytes of DATA unacknowledged, and the receiver returns credit only
 * as its replication stream consumes them. So the receiver can always read the
 * socket (a slow document buffers at most WINDOW bytes) and a slow document
 * never stalls the others: no head-of-line deadlock.
 */
const MAGIC = 'scuttledb-mux/1'
const HEADER_BYTES = 9
const HELLO = 0
const OPEN = 1
const DATA = 2
const END = 3
const RESET = 4
const CREDIT = 5
const PING = 6
/** Bytes of DATA a side may send on one channel before the receiver returns credit. */
export const WINDOW = 256 * 1024
/** Largest DATA payload; larger chunks are split. */
const MAX_DATA = 64 * 1024
/** Largest OPEN name or RESET reason, in bytes. */
const MAX_NAME = 1024
/**
 * Bytes of output the peer has not read that a multiplexer may queue. DATA stops at
 * the socket's backpressure, but control frames (a RESET answering each OPEN, CREDIT)
 * are pushed regardless: a peer that keeps asking and never reads is dropped here.
 */
const MAX_QUEUED_OUTPUT = 4 * 1024 * 1024

const utf8 = new TextDecoder('utf-8', { fatal: true })
const EMPTY = new Uint8Array(0)
const text = new TextEncoder()

interface Channel {
  id: number
  name: string
  stream: ReplicationStream | undefined
  /** Bytes we may still send. */
  credit: number
  /** Bytes read from the stream and not yet sent (one chunk at most). */
  pending: Uint8Array | null
  outputEnded: boolean
  endSent: boolean
  endReceived: boolean
  resetReceived: boolean
  /** Total bytes the peer may send, received, and consumed by our stream. */
  granted: number
  received: number
  consumed: number
  /** DATA that arrived before the stream existed (while resolving the name). */
  inbox: Uint8Array[]
  /** The stream closed; the channel goes once its last output and END are sent. */
  streamClosed: boolean
  /** Bytes of DATA received and not yet consumed, reserved in the streams' `bufferAccount`. */
  held: number
}

/** Options of a Multiplexer. */
export interface MultiplexerOptions {
  /** The connecting side uses odd channel ids, the listening side even ones. */
  side: 'client' | 'server'
  /** Looks up documents the peer opens. */
  resolve: DocumentResolver
  /** Names this side opens at once. */
  open: string[]
  /** Passed to every `createStream()`. */
  stream?: StreamOptions
  /** Send PING after this many ms without output; false: never. */
  keepAlive: number | false
}

/** The events of a Multiplexer (besides a Duplex's). */
export interface MultiplexerEvents {
  /** The peer's HELLO arrived. */
  hello: []
  /** A document's replication stream is attached. */
  channel: [name: string, stream: ReplicationStream]
  /** A document's channel failed or was refused; the connection goes on. */
  channelError: [name: string, err: Error]
}

/** A Duplex to pipe to and from a socket that replicates several named documents over it. */
export class Multiplexer extends Duplex {
  readonly #options: MultiplexerOptions
  readonly #channels = new Map<number, Channel>()
  /** Names of the open channels the peer opened: one each, so a peer cannot multiply a document's streams. */
  readonly #peerOpened = new Set<string>()
  #nextId: number
  #input: Uint8Array = EMPTY
  /** Copies of the chunks of an incomplete frame, joined once it is complete (not with every chunk: a peer sending a byte at a time would cost the square of a frame). */
  #parts: Uint8Array[] = []
  #partBytes = 0
  /** The incomplete frame's length, with its 4-byte header, once that header has arrived; else -1. */
  #need = -1
  #helloReceived = false
  #blocked = false
  #peerEnded = false
  #everOpened = false
  #openedLocally = false
  #outputEnded = false
  #ping: NodeJS.Timeout | undefined

  constructor (options: MultiplexerOptions) {
    super({ allowHalfOpen: true })
    this.#options = options
    this.#nextId = options.side === 'client' ? 1 : 2
    this.#send(HELLO, 0, text.encode(MAGIC))
    for (const name of options.open) this.openDocument(name)
    if (options.keepAlive !== false) {
      this.#ping = setInterval(() => { if (this.readableLength === 0) this.#send(PING, 0) }, options.keepAlive)
      this.#ping.unref?.()
    }
  }

  /** True once the peer's HELLO arrived. */
  get helloReceived (): boolean {
    return this.#helloReceived
  }

  /** The names of the open channels. */
  get documents (): string[] {
    return [...this.#channels.values()].map((c) => c.name)
  }

  /** Open a document: this side's stream for `name` replicates with the peer's. */
  openDocument (name: string): void {
    const bytes = text.encode(name)
    if (bytes.length === 0 || bytes.length > MAX_NAME) throw new TypeError(`A document name must be 1 to ${MAX_NAME} bytes`)
    if (this.destroyed || this.#outputEnded) return
    const channel = this.#channel(this.#nextId, name)
    this.#nextId += 2
    this.#openedLocally = true
    this.#send(OPEN, channel.id, bytes)
    this.#resolveInto(channel)
  }

  #channel (id: number, name: string): Channel {
    const channel: Channel = {
      id, name, stream: undefined, credit: WINDOW, pending: null, outputEnded: false, endSent: false,
      endReceived: false, resetReceived: false, granted: WINDOW, received: 0, consumed: 0, inbox: [], streamClosed: false, held: 0
    }
    this.#channels.set(id, channel)
    this.#everOpened = true
    return channel
  }

  #attach (channel: Channel, stream: ReplicationStream): void {
    channel.stream = stream
    stream.on('readable', () => { this.#pump() })
    stream.on('end', () => { channel.outputEnded = true; this.#pump() })
    stream.on('error', (err) => { this.emit('channelError', channel.name, err) })
    stream.on('close', () => {
      channel.streamClosed = true
      // Ended cleanly with output still to send (waiting for credit): finish sending first.
      if (stream.readableEnded && !channel.endSent) this.#pump()
      else this.#finish(channel)
    })
    for (const chunk of channel.inbox) this.#deliver(channel, chunk)
    channel.inbox = []
    if (channel.endReceived) stream.end()
    this.emit('channel', channel.name, stream)
  }

  /** Resolve a channel's document (maybe asynchronously) and attach a stream, or refuse it. */
  #resolveInto (channel: Channel): void {
    const { id, name } = channel
    // DATA arriving while a resolver runs waits in the inbox (bounded by credit).
    Promise.resolve().then(() => this.#options.resolve(name)).then((instance) => {
      if (this.destroyed || this.#channels.get(id) !== channel) return
      if (instance === undefined) {
        this.#reset(channel, netError(netCodes.UNKNOWN_DOCUMENT, `No document named ${name}`))
        return
      }
      this.#attach(channel, instance.createStream(this.#options.stream))
    }).catch((err: unknown) => {
      // A resolver that throws could not open the document now (a store busy, out of file
      // descriptors): refusing the channel would leave the peer without it for as long as the
      // connection stays up. The connection closes instead, and the peer's reconnect asks again.
      if (!this.destroyed && this.#channels.get(id) === channel) {
        this.destroy(error(codes.DOCUMENT_FAILED, `Document ${name} could not be opened; the connection closes so that it is asked for again`, { cause: err as Error }))
      }
    })
  }

  /** Remove a channel from the open ones. */
  #forget (channel: Channel): void {
    this.#unhold(channel, channel.held)
    this.#channels.delete(channel.id)
    if (this.#openedByPeer(channel.id)) this.#peerOpened.delete(channel.name)
  }

  #openedByPeer (id: number): boolean {
    return id % 2 === (this.#options.side === 'client' ? 0 : 1)
  }

  /** Forget a channel whose stream closed; a channel not ended both ways is reset at the peer. */
  #finish (channel: Channel): void {
    if (this.#channels.get(channel.id) !== channel) return
    this.#forget(channel)
    const clean = channel.endSent && channel.endReceived
    if (!clean && !channel.resetReceived) this.#send(RESET, channel.id, text.encode(netCodes.CHANNEL_RESET))
    this.#maybeEnd()
  }

  #reset (channel: Channel, err: NetError): void {
    this.#forget(channel)
    this.#send(RESET, channel.id, text.encode(err.code))
    this.emit('channelError', channel.name, err)
    this.#maybeEnd()
  }

  #maybeEnd (): void {
    // Once every channel is done, end our side: the peer ends its own and the socket closes cleanly.
    if (this.#channels.size === 0 && this.#everOpened && !this.#outputEnded && (this.#peerEnded || this.#openedLocally)) {
      this.#outputEnded = true
      this.push(null)
    }
  }

  #send (type: number, id: number, payload?: Uint8Array): void {
    if (this.destroyed || this.#outputEnded) return
    const size = payload?.length ?? 0
    const frame = new Uint8Array(HEADER_BYTES + size)
    writeUInt32BE(frame, 5 + size, 0)
    frame[4] = type
    writeUInt32BE(frame, id, 5)
    if (payload !== undefined) frame.set(payload, HEADER_BYTES)
    this.#ping?.refresh()
    if (!this.push(frame)) this.#blocked = true
    if (this.readableLength > MAX_QUEUED_OUTPUT) {
      this.destroy(error(codes.OVERLOADED, `The peer has not read ${this.readableLength} bytes of this connection's output`))
    }
  }

  /** Send what the channels' streams have, within credit, round-robin, until the socket pushes back. */
  #pump (): void {
    let progress = true
    while (progress && !this.#blocked && !this.destroyed) {
      progress = false
      for (const channel of this.#channels.values()) {
        if (this.#blocked) break
        if (this.#sendSome(channel)) progress = true
      }
    }
  }

  #sendSome (channel: Channel): boolean {
    const stream = channel.stream
    if (stream === undefined || channel.endSent) return false
    if (channel.credit > 0) {
      const chunk: Uint8Array | null = channel.pending ?? stream.read() as Uint8Array | null
      channel.pending = null
      if (chunk !== null) {
        const size = Math.min(chunk.length, channel.credit, MAX_DATA)
        if (size < chunk.length) channel.pending = chunk.subarray(size)
        channel.credit -= size
        this.#send(DATA, channel.id, chunk.subarray(0, size))
        return true
      }
    }
    if (channel.outputEnded && channel.pending === null) {
      channel.endSent = true
      this.#send(END, channel.id)
      if (channel.streamClosed) this.#finish(channel)
      return true
    }
    return false
  }

  override _read (): void {
    this.#blocked = false
    this.#pump()
  }

  override _write (chunk: Uint8Array, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    // Always take input at once: what it may buffer is bounded by the credit we gave.
    let offset = 0
    try {
      if (this.#partBytes > 0) {
        const total = this.#partBytes + chunk.length
        if (this.#need < 0 && total >= 4) this.#need = 4 + frameSize(concat([...this.#parts, chunk.subarray(0, 4)]), 0)
        if (this.#need < 0 || total < this.#need) {
          this.#parts.push(copy(chunk))
          this.#partBytes = total
          callback()
          return
        }
        chunk = concat([...this.#parts, chunk], total)
        this.#parts = []
        this.#partBytes = 0
        this.#need = -1
      }
      this.#input = chunk
      while (this.#input.length - offset >= 4) {
        const size = frameSize(this.#input, offset)
        if (this.#input.length - offset < 4 + size) break
        const type = this.#input[offset + 4]
        if (!this.#helloReceived && type !== HELLO) throw authRequiredFrame(this.#input.subarray(offset + 4, offset + 4 + size)) ?? notMultiplexing()
        const id = readUInt32BE(this.#input, offset + 5)
        const payload = this.#input.subarray(offset + HEADER_BYTES, offset + 4 + size)
        offset += 4 + size
        this.#onFrame(type, id, payload)
        if (this.destroyed) break
      }
    } catch (err) {
      this.destroy(err as Error)
      callback()
      return
    }
    // Keep a copy of the incomplete tail, so the large chunk it came from is not kept alive.
    if (offset < this.#input.length && !this.destroyed) {
      const tail = this.#input.subarray(offset)
      this.#parts = [copy(tail)]
      this.#partBytes = tail.length
      this.#need = tail.length >= 4 ? 4 + frameSize(tail, 0) : -1
    }
    this.#input = EMPTY
    callback()
  }

  #onFrame (type: number, id: number, payload: Uint8Array): void {
    if (!this.#helloReceived) {
      if (type !== HELLO || latin1(payload) !== MAGIC) throw notMultiplexing()
      this.#helloReceived = true
      this.emit('hello')
      return
    }
    const channel = this.#channels.get(id)
    switch (type) {
      case OPEN: return this.#onOpen(id, payload)
      case DATA:
        if (channel === undefined) return // a channel we reset: its data was in flight
        if (channel.endReceived) throw netError(netCodes.MUX_PROTOCOL, 'DATA after END')
        channel.received += payload.length
        if (channel.received > channel.granted) throw netError(netCodes.MUX_PROTOCOL, 'The peer sent more than its credit')
        // Reserved until the stream has consumed it (a refusal ends the connection: SCUTTLEDB_OVERLOADED).
        this.#options.stream?.bufferAccount?.reserve(payload.length)
        channel.held += payload.length
        // Copy: the payload is a view of a socket chunk that must not be kept alive by a slow document.
        if (channel.stream === undefined) channel.inbox.push(copy(payload))
        else this.#deliver(channel, copy(payload))
        return
      case CREDIT:
        if (payload.length !== 4) throw netError(netCodes.MUX_PROTOCOL, 'Bad CREDIT frame')
        if (channel === undefined) return
        channel.credit += readUInt32BE(payload, 0)
        if (channel.credit > 4 * WINDOW) throw netError(netCodes.MUX_PROTOCOL, 'The peer granted absurd credit')
        this.#pump()
        return
      case END:
        if (channel === undefined || channel.endReceived) return
        channel.endReceived = true
        channel.stream?.end()
        return
      case RESET:
        if (channel === undefined) return
        channel.resetReceived = true
        this.#forget(channel)
        // A refusal keeps its own code; anything else is a reset.
        channel.stream?.destroy(latin1(payload) === netCodes.UNKNOWN_DOCUMENT
          ? netError(netCodes.UNKNOWN_DOCUMENT, `The peer has no document named ${channel.name}`)
          : netError(netCodes.CHANNEL_RESET, `The peer reset document ${channel.name} (${safeText(payload)})`))
        this.#maybeEnd()
        return
      case PING: return
      default: throw netError(netCodes.MUX_PROTOCOL, `Unknown frame type ${type}`)
    }
  }

  #onOpen (id: number, payload: Uint8Array): void {
    if (!this.#openedByPeer(id) || this.#channels.has(id) || payload.length === 0 || payload.length > MAX_NAME) {
      throw netError(netCodes.MUX_PROTOCOL, 'Bad OPEN frame')
    }
    let name: string
    try {
      name = utf8.decode(payload)
    } catch (err) {
      throw netError(netCodes.MUX_PROTOCOL, 'A document name must be UTF-8', err)
    }
    if (this.#peerOpened.has(name)) {
      // Each open would be another stream sending the whole history: refuse the copy
      // (as an unknown name is refused, so a flood costs one small frame each), keep the first.
      this.#send(RESET, id, text.encode(netCodes.MUX_PROTOCOL))
      this.emit('channelError', name, netError(netCodes.MUX_PROTOCOL, `The peer opened document ${name} while it had it open`))
      return
    }
    this.#peerOpened.add(name)
    this.#resolveInto(this.#channel(id, name))
  }

  #deliver (channel: Channel, chunk: Uint8Array): void {
    const stream = channel.stream as ReplicationStream
    if (stream.destroyed) {
      this.#unhold(channel, chunk.length)
      return
    }
    stream.write(chunk, () => {
      this.#unhold(channel, chunk.length)
      channel.consumed += chunk.length
      // Return credit in large steps, not per chunk.
      if (channel.granted - channel.consumed <= WINDOW / 2 && this.#channels.get(channel.id) === channel) {
        const more = channel.consumed + WINDOW - channel.granted
        channel.granted += more
        const payload = new Uint8Array(4)
        writeUInt32BE(payload, more, 0)
        this.#send(CREDIT, channel.id, payload)
      }
    })
  }

  /** Release up to `bytes` of what a channel holds (none twice: a forgotten channel holds nothing). */
  #unhold (channel: Channel, bytes: number): void {
    const n = Math.min(bytes, channel.held)
    if (n === 0) return
    channel.held -= n
    this.#options.stream?.bufferAccount?.release(n)
  }

  override _final (callback: (err?: Error | null) => void): void {
    // The peer ended the whole connection: end every channel's input.
    this.#peerEnded = true
    for (const channel of this.#channels.values()) {
      if (!channel.endReceived) {
        channel.endReceived = true
        channel.stream?.end()
      }
    }
    this.#maybeEnd()
    callback()
  }

  override _destroy (err: Error | null, callback: (err?: Error | null) => void): void {
    clearInterval(this.#ping)
    for (const channel of this.#channels.values()) {
      this.#unhold(channel, channel.held)
      channel.stream?.destroy()
    }
    this.#channels.clear()
    this.#peerOpened.clear()
    callback(err)
  }
}

/** A frame's length field (of what follows it), checked before any of the frame is kept. */
function frameSize (bytes: Uint8Array, offset: number): number {
  const size = readUInt32BE(bytes, offset)
  if (size < 5 || size > 5 + MAX_DATA) throw netError(netCodes.MUX_PROTOCOL, `Bad frame length ${size}`)
  return size
}

function notMultiplexing (): NetError {
  return netError(netCodes.MUX_PROTOCOL, 'The peer does not speak the multiplexing protocol')
}

/** A short printable form of a peer-supplied reason. */
function safeText (payload: Uint8Array): string {
  return latin1(payload.subarray(0, 64)).replace(/[^\x20-\x7e]/g, '?')
}
