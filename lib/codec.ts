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
  decoder: (max) => new FrameDecoder(max)
}
