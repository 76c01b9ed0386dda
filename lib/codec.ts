import type { BufferAccount } from './buffer-budget.js'
import { concat, readUInt32BE, writeUInt32BE } from './bytes.js'
import { codes, error, type ScuttledbError } from './errors.js'
import { pack, unpack } from './msgpack.js'
import type { Update } from './protocol.js'
import { MAX_DEPTH, holdsBinary } from './value-domain.js'
import { wireProblem } from './wire-check.js'

/** Told about a stored update the codec cannot carry; it is left out, the rest goes on. */
export type OnUnsendable = (err: ScuttledbError) => void

/** Called once per decoded value; `bytes` is its exact msgpack encoding when the codec has it. */
export type OnValue = (value: unknown, bytes: Uint8Array | undefined) => void

/** Turns bytes from a peer into values. Throws coded errors; a throw ends the stream. */
export interface Decoder {
  write (chunk: Uint8Array, onValue: OnValue): void
  /** The input ended; throws when it ended inside a frame. */
  end (): void
  /** Drop a partial frame and release its bytes (the stream is gone). */
  dispose (): void
}

/** A wire encoding of the protocol's messages. */
export interface Codec {
  readonly name: string
  /** Encode a header or the SYNC marker. */
  encode (value: unknown): Uint8Array
  /**
   * Encode a run of updates (each with its stored msgpack bytes) into one chunk.
   * An update this encoding cannot carry is left out and reported to `onUnsendable`;
   * so is one whose frame would exceed `maxFrameBytes` (default DEFAULT_MAX_FRAME_BYTES),
   * which a peer with that limit would refuse, closing the stream every time it is sent.
   */
  encodeUpdates (updates: Array<[Update | undefined, Uint8Array]>, onUnsendable?: OnUnsendable, maxFrameBytes?: number): Uint8Array
  /** A decoder; with `account`, the bytes of a partial frame are reserved in it before they are kept. */
  decoder (maxFrameBytes: number, account?: BufferAccount): Decoder
}

/** Default `maxFrameBytes`: larger frames are refused before they are buffered. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024

const HEADER_BYTES = 4

// Plain Uint8Array code (no Buffer): the same bytes on Node and in browsers.
// Fatal: a line that is not UTF-8 is refused, never stored with replacement characters.
const utf8 = new TextDecoder('utf-8', { fatal: true })
const ascii = new TextEncoder()

function frame (body: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + body.length)
  writeUInt32BE(out, body.length, 0)
  out.set(body, HEADER_BYTES)
  return out
}

/** A part shorter than this is copied into the tail rather than kept as a view of its own. */
const SMALL_PART = 1024
/** The most bytes one tail holds before it is kept as a part and another begins. */
const TAIL_BYTES = 16 * 1024

/**
 * The bytes of an incomplete frame (or line), kept as chunks and joined once,
 * when it is complete. With an account (a listener's budget, lib/buffer-budget.ts)
 * they are reserved before they are kept: only when a chunk leaves a partial
 * frame behind, never per complete frame. Small chunks are copied into a tail:
 * a view per chunk costs about a hundred bytes of heap, which a peer sending a
 * byte a segment would make a hundred times what the account counts.
 */
class Partial {
  #parts: Uint8Array[] = []
  #tail: Uint8Array | undefined
  #tailLength = 0
  bytes = 0
  readonly #account: BufferAccount | undefined
  /** Bytes reserved: those kept, and those of a frame joined in this write until `settle()`. */
  #held = 0

  constructor (account: BufferAccount | undefined) {
    this.#account = account
  }

  /** The bytes kept, in order. */
  get parts (): Uint8Array[] {
    return this.#tail === undefined ? this.#parts : [...this.#parts, this.#tail.subarray(0, this.#tailLength)]
  }

  /** Keep `part` (a copy, so a large chunk is not pinned by a few leftover bytes); SCUTTLEDB_OVERLOADED keeps nothing. */
  keep (part: Uint8Array, copy: boolean): void {
    const total = this.bytes + part.length
    try {
      this.#hold(total)
    } catch (err) {
      this.clear()
      throw err
    }
    if (part.length < SMALL_PART) {
      this.#append(part)
    } else {
      this.#endTail()
      this.#parts.push(copy ? new Uint8Array(part) : part)
    }
    this.bytes = total
  }

  /** The kept parts joined with `last`, the end of the frame; they stay reserved until `settle()` or `keep()`. */
  join (last: Uint8Array): Uint8Array {
    const out = concat([...this.parts, last], this.bytes + last.length)
    this.#reset()
    return out
  }

  /** A write is done: release what is reserved beyond what is kept. */
  settle (): void {
    if (this.#held > this.bytes) this.#hold(this.bytes)
  }

  /** Drop everything kept and release it. */
  clear (): void {
    this.#reset()
    this.#hold(0)
  }

  #reset (): void {
    this.#parts = []
    this.#tail = undefined
    this.#tailLength = 0
    this.bytes = 0
  }

  /** Copy a small part into the tail, grown by doubling (so copying stays linear) up to TAIL_BYTES. */
  #append (part: Uint8Array): void {
    if (this.#tailLength + part.length > TAIL_BYTES) this.#endTail()
    const need = this.#tailLength + part.length
    let tail = this.#tail
    if (tail === undefined || need > tail.length) {
      const grown = new Uint8Array(Math.min(TAIL_BYTES, Math.max(256, 2 * (tail?.length ?? 0), need)))
      if (tail !== undefined) grown.set(tail.subarray(0, this.#tailLength))
      tail = this.#tail = grown
    }
    tail.set(part, this.#tailLength)
    this.#tailLength = need
  }

  /** Keep the tail as a part: what follows goes after it. */
  #endTail (): void {
    if (this.#tail === undefined) return
    this.#parts.push(this.#tail.subarray(0, this.#tailLength))
    this.#tail = undefined
    this.#tailLength = 0
  }

  #hold (bytes: number): void {
    const account = this.#account
    if (account !== undefined) {
      if (bytes > this.#held) {
        try {
          account.reserve(bytes - this.#held)
        } catch (err) {
          // A refused account has given back all it held.
          this.#held = 0
          throw err
        }
      } else {
        account.release(this.#held - bytes)
      }
    }
    this.#held = bytes
  }
}

/**
 * msgpack frames: a 4-byte big-endian length, then one msgpack value. The length
 * is checked against the limit before any byte of the frame is kept.
 */
class FrameDecoder implements Decoder {
  readonly #max: number
  readonly #partial: Partial
  /** The incomplete frame's body length once its header has arrived. */
  #need = -1

  constructor (max: number, account: BufferAccount | undefined) {
    this.#max = max
    this.#partial = new Partial(account)
  }

  write (chunk: Uint8Array, onValue: OnValue): void {
    const partial = this.#partial
    if (partial.bytes > 0) {
      const total = partial.bytes + chunk.length
      if (this.#need < 0 && total >= HEADER_BYTES) this.#need = this.#readSize(concat([...partial.parts, chunk.subarray(0, HEADER_BYTES)]), 0)
      if (this.#need < 0 || total < HEADER_BYTES + this.#need) {
        partial.keep(chunk, false)
        return
      }
      chunk = partial.join(chunk)
      this.#need = -1
    }
    let offset = 0
    while (chunk.length - offset >= HEADER_BYTES) {
      const size = this.#readSize(chunk, offset)
      const end = offset + HEADER_BYTES + size
      if (end > chunk.length) break
      const body = chunk.subarray(offset + HEADER_BYTES, end)
      let value: unknown
      try {
        value = unpack(body)
      } catch (err) {
        throw error(codes.INVALID_FRAME, 'Frame is not valid msgpack', { cause: err as Error })
      }
      // What msgpackr decodes as something else: a value the peer never sent must not be stored.
      const problem = wireProblem(body)
      if (problem !== undefined) {
        throw error(problem === 'a string that is not UTF-8' ? codes.INVALID_FRAME : codes.INVALID_MESSAGE, `A frame may not hold ${problem}`)
      }
      onValue(value, body)
      offset = end
    }
    if (offset < chunk.length) {
      const need = chunk.length - offset >= HEADER_BYTES ? this.#readSize(chunk, offset) : -1
      partial.keep(chunk.subarray(offset), true)
      this.#need = need
    } else {
      partial.settle()
    }
  }

  /** A frame's length, checked against the limit before any of its body is kept. */
  #readSize (buf: Uint8Array, offset: number): number {
    const size = readUInt32BE(buf, offset)
    if (size > this.#max) throw error(codes.FRAME_TOO_LARGE, `Frame of ${size} bytes exceeds maxFrameBytes (${this.#max})`)
    if (size === 0) throw error(codes.INVALID_FRAME, 'Empty frame')
    return size
  }

  end (): void {
    if (this.#partial.bytes > 0) throw error(codes.INVALID_FRAME, 'Input ended inside a frame')
  }

  dispose (): void {
    this.#partial.clear()
    this.#need = -1
  }
}

/** The default codec: length-prefixed msgpack frames. */
export const msgpackCodec: Codec = {
  name: 'msgpack',
  encode: (value) => frame(pack(value)),
  encodeUpdates: (updates, onUnsendable, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) => {
    if (updates.some(([, bytes]) => wireProblem(bytes) !== undefined)) {
      // Stored as received before frames were checked: a peer would refuse these bytes, and the
      // stream with them, on every sync. They go out as the value this node holds.
      return msgpackCodec.encodeUpdates(updates.map(([update, bytes]) => wireProblem(bytes) === undefined ? [update, bytes] : [update, pack(update ?? unpack(bytes))]), onUnsendable, maxFrameBytes)
    }
    let size = 0
    let oversized = false
    for (const [, bytes] of updates) {
      size += HEADER_BYTES + bytes.length
      if (bytes.length > maxFrameBytes) oversized = true
    }
    if (oversized) {
      // Only with a maxFrameBytes below the value domain's bound (lib/value-domain.ts).
      const fit = updates.filter(([update, bytes]) => {
        if (bytes.length <= maxFrameBytes) return true
        onUnsendable?.(error(codes.UNSENDABLE, `An update of ${bytes.length} bytes is over maxFrameBytes (${maxFrameBytes}); skipped`, { update: update ?? unpack(bytes) as Update }))
        return false
      })
      return msgpackCodec.encodeUpdates(fit, onUnsendable, maxFrameBytes)
    }
    const out = new Uint8Array(size)
    let offset = 0
    for (const [, bytes] of updates) {
      writeUInt32BE(out, bytes.length, offset)
      out.set(bytes, offset + HEADER_BYTES)
      offset += HEADER_BYTES + bytes.length
    }
    return out
  },
  decoder: (max, account) => new FrameDecoder(max, account)
}

const NEWLINE = 0x0a

/** JSON that is pure ASCII: the original splits UTF-8 across chunks, so it must never see a multi-byte character. */
export function asciiJson (value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))
}

/** A line's text; INVALID_FRAME when it is not UTF-8 (JSON text must be). */
function decodeLine (bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes)
  } catch (err) {
    throw error(codes.INVALID_FRAME, 'Line is not valid UTF-8', { cause: err as Error })
  }
}

/**
 * Newline-delimited JSON, as the original speaks it. Lines are split on bytes,
 * so a multi-byte character split across chunks decodes correctly; blank lines
 * are skipped; a line longer than the limit is refused before it is complete.
 */
class LineDecoder implements Decoder {
  readonly #max: number
  /** Bytes of an incomplete line (no newline in them), joined once the newline arrives. */
  readonly #partial: Partial

  constructor (max: number, account: BufferAccount | undefined) {
    this.#max = max
    this.#partial = new Partial(account)
  }

  write (chunk: Uint8Array, onValue: OnValue): void {
    const partial = this.#partial
    let start = 0
    let end = chunk.indexOf(NEWLINE)
    if (partial.bytes > 0) {
      if (end === -1) {
        this.#keep(chunk, false)
        return
      }
      // Only the new chunk is searched: the kept parts hold no newline.
      this.#line(partial.join(chunk.subarray(0, end)), onValue)
      start = end + 1
      end = chunk.indexOf(NEWLINE, start)
    }
    for (; end !== -1; start = end + 1, end = chunk.indexOf(NEWLINE, start)) {
      this.#line(chunk.subarray(start, end), onValue)
    }
    if (start < chunk.length) this.#keep(chunk.subarray(start), true)
    else partial.settle()
  }

  /** Keep part of an incomplete line: a line longer than the limit is refused before it is complete. */
  #keep (part: Uint8Array, copy: boolean): void {
    if (this.#partial.bytes + part.length > this.#max) throw error(codes.FRAME_TOO_LARGE, `Line exceeds maxFrameBytes (${this.#max})`)
    this.#partial.keep(part, copy)
  }

  #line (bytes: Uint8Array, onValue: OnValue): void {
    if (bytes.length > this.#max) throw error(codes.FRAME_TOO_LARGE, `Line exceeds maxFrameBytes (${this.#max})`)
    const line = decodeLine(bytes)
    if (line.trim() === '') return
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch (err) {
      throw error(codes.INVALID_FRAME, 'Line is not valid JSON', { cause: err as Error })
    }
    onValue(value, undefined)
  }

  end (): void {
    const partial = this.#partial
    if (partial.bytes > 0 && decodeLine(concat(partial.parts)).trim() !== '') {
      throw error(codes.INVALID_FRAME, 'Input ended inside a line')
    }
  }

  dispose (): void {
    this.#partial.clear()
  }
}

/**
 * One update as a JSON line, or an UNSENDABLE error: JSON has no binary (and
 * could not carry anything else outside the value domain, should storage hold it).
 */
function jsonLine (update: Update | undefined, bytes: Uint8Array, max: number): string | ScuttledbError {
  try {
    const value = update ?? unpack(bytes) as Update
    // The update is one level more than its change and signature, which may each nest MAX_DEPTH levels.
    if (holdsBinary(value, MAX_DEPTH + 1)) {
      return error(codes.UNSENDABLE, 'An update holding binary cannot be sent on a JSON stream; skipped', { update: value })
    }
    const line = asciiJson(value)
    // Escapes grow a value up to six times (U+0001 is \u0001): an update well within the
    // value domain can make a line the peer's decoder refuses, and resending it would
    // stop the stream at it for good.
    if (line.length > max) {
      return error(codes.UNSENDABLE, `An update is ${line.length} bytes as a JSON line, over maxFrameBytes (${max}); skipped`, { update: value })
    }
    return line + '\n'
  } catch (err) {
    return error(codes.UNSENDABLE, 'A stored update cannot be encoded as JSON; skipped', { cause: err as Error, update })
  }
}

/** The original scuttlebutt's wire format: one ASCII JSON value per line. */
export const jsonCodec: Codec = {
  name: 'json',
  encode: (value) => ascii.encode(asciiJson(value) + '\n'),
  encodeUpdates: (updates, onUnsendable, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) => {
    let text = ''
    for (const [update, bytes] of updates) {
      const line = jsonLine(update, bytes, maxFrameBytes)
      if (typeof line === 'string') text += line
      else onUnsendable?.(line)
    }
    // Pure ASCII, so its UTF-8 is its latin1.
    return ascii.encode(text)
  },
  decoder: (max, account) => new LineDecoder(max, account)
}

/** The codecs by the name given as the `wrapper` stream option. */
export const codecs = { msgpack: msgpackCodec, json: jsonCodec } as const

/** A `wrapper` option value. */
export type WrapperName = keyof typeof codecs
