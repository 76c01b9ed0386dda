import { codes, error } from './errors.js'
import { pack, unpack } from './msgpack.js'
import type { Update } from './protocol.js'

/** Called once per decoded value; `bytes` is its exact msgpack encoding when the codec has it. */
export type OnValue = (value: unknown, bytes: Buffer | undefined) => void

/** Turns bytes from a peer into values. Throws coded errors; a throw ends the stream. */
export interface Decoder {
  write (chunk: Buffer, onValue: OnValue): void
  /** The input ended; throws when it ended inside a frame. */
  end (): void
}

/** A wire encoding of the protocol's messages. */
export interface Codec {
  readonly name: string
  /** Encode a header or the SYNC marker. */
  encode (value: unknown): Buffer
  /** Encode an update; `bytes` is its msgpack encoding when already known (from storage). */
  encodeUpdate (update: Update | undefined, bytes: Buffer | undefined): Buffer
  /** Encode a run of updates (each with its stored msgpack bytes) into one chunk. */
  encodeUpdates (updates: Array<[Update | undefined, Buffer]>): Buffer
  decoder (maxFrameBytes: number): Decoder
}

/** Default `maxFrameBytes`: larger frames are refused before they are buffered. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024

const HEADER_BYTES = 4

function frame (body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + body.length)
  out.writeUInt32BE(body.length, 0)
  body.copy(out, HEADER_BYTES)
  return out
}

/**
 * msgpack frames: a 4-byte big-endian length, then one msgpack value. The length
 * is checked against the limit before any byte of the frame is kept.
 */
class FrameDecoder implements Decoder {
  readonly #max: number
  #pending: Buffer | null = null

  constructor (max: number) {
    this.#max = max
  }

  write (chunk: Buffer, onValue: OnValue): void {
    let buf = this.#pending === null ? chunk : Buffer.concat([this.#pending, chunk])
    this.#pending = null
    let offset = 0
    while (buf.length - offset >= HEADER_BYTES) {
      const size = buf.readUInt32BE(offset)
      if (size > this.#max) {
        throw error(codes.FRAME_TOO_LARGE, `Frame of ${size} bytes exceeds maxFrameBytes (${this.#max})`)
      }
      if (size === 0) throw error(codes.INVALID_FRAME, 'Empty frame')
      const end = offset + HEADER_BYTES + size
      if (end > buf.length) break
      const body = buf.subarray(offset + HEADER_BYTES, end)
      let value: unknown
      try {
        value = unpack(body)
      } catch (err) {
        throw error(codes.INVALID_FRAME, 'Frame is not valid msgpack', { cause: err as Error })
      }
      onValue(value, body)
      offset = end
    }
    if (offset < buf.length) {
      // Copy the tail so a large chunk is not pinned by a few leftover bytes.
      buf = buf.subarray(offset)
      this.#pending = offset > 0 ? Buffer.from(buf) : buf
    }
  }

  end (): void {
    if (this.#pending !== null && this.#pending.length > 0) {
      throw error(codes.INVALID_FRAME, 'Input ended inside a frame')
    }
  }
}

/** The default codec: length-prefixed msgpack frames. */
export const msgpackCodec: Codec = {
  name: 'msgpack',
  encode: (value) => frame(pack(value)),
  encodeUpdate: (update, bytes) => frame(bytes ?? pack(update)),
  encodeUpdates: (updates) => {
    let size = 0
    for (const [, bytes] of updates) size += HEADER_BYTES + bytes.length
    const out = Buffer.allocUnsafe(size)
    let offset = 0
    for (const [, bytes] of updates) {
      out.writeUInt32BE(bytes.length, offset)
      bytes.copy(out, offset + HEADER_BYTES)
      offset += HEADER_BYTES + bytes.length
    }
    return out
  },
  decoder: (max) => new FrameDecoder(max)
}

const NEWLINE = 0x0a

/** JSON that is pure ASCII: the original splits UTF-8 across chunks, so it must never see a multi-byte character. */
export function asciiJson (value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))
}

/**
 * Newline-delimited JSON, as the original speaks it. Lines are split on bytes,
 * so a multi-byte character split across chunks decodes correctly; blank lines
 * are skipped; a line longer than the limit is refused before it is complete.
 */
class LineDecoder implements Decoder {
  readonly #max: number
  #pending: Buffer | null = null

  constructor (max: number) {
    this.#max = max
  }

  write (chunk: Buffer, onValue: OnValue): void {
    const buf = this.#pending === null ? chunk : Buffer.concat([this.#pending, chunk])
    this.#pending = null
    let start = 0
    for (let end = buf.indexOf(NEWLINE, start); end !== -1; end = buf.indexOf(NEWLINE, start)) {
      if (end - start > this.#max) throw error(codes.FRAME_TOO_LARGE, `Line exceeds maxFrameBytes (${this.#max})`)
      const line = buf.toString('utf8', start, end)
      start = end + 1
      if (line.trim() === '') continue
      let value: unknown
      try {
        value = JSON.parse(line)
      } catch (err) {
        throw error(codes.INVALID_FRAME, 'Line is not valid JSON', { cause: err as Error })
      }
      onValue(value, undefined)
    }
    if (start < buf.length) {
      if (buf.length - start > this.#max) throw error(codes.FRAME_TOO_LARGE, `Line exceeds maxFrameBytes (${this.#max})`)
      this.#pending = Buffer.from(buf.subarray(start))
    }
  }

  end (): void {
    if (this.#pending !== null && this.#pending.toString('utf8').trim() !== '') {
      throw error(codes.INVALID_FRAME, 'Input ended inside a line')
    }
  }
}

/** The original scuttlebutt's wire format: one ASCII JSON value per line. */
export const jsonCodec: Codec = {
  name: 'json',
  encode: (value) => Buffer.from(asciiJson(value) + '\n', 'latin1'),
  encodeUpdate: (update, bytes) => Buffer.from(asciiJson(update ?? unpack(bytes as Buffer)) + '\n', 'latin1'),
  encodeUpdates: (updates) => Buffer.from(updates.map(([update, bytes]) => asciiJson(update ?? unpack(bytes)) + '\n').join(''), 'latin1'),
  decoder: (max) => new LineDecoder(max)
}

/** The codecs by the name given as the `wrapper` stream option. */
export const codecs = { msgpack: msgpackCodec, json: jsonCodec } as const

/** A `wrapper` option value. */
export type WrapperName = keyof typeof codecs
