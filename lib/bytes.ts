/** Byte helpers on plain Uint8Array (no Buffer), so the same code runs on Node and in browsers. */

/** The big-endian uint32 at `offset`. */
export function readUInt32BE (bytes: Uint8Array, offset: number): number {
  return bytes[offset] * 0x1000000 + ((bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3])
}

/** Write `value` as a big-endian uint32 at `offset`. */
export function writeUInt32BE (bytes: Uint8Array, value: number, offset: number): void {
  bytes[offset] = value >>> 24
  bytes[offset + 1] = value >>> 16
  bytes[offset + 2] = value >>> 8
  bytes[offset + 3] = value
}

/** The parts joined into one new array (`total`: their summed length, when known). */
export function concat (parts: Uint8Array[], total = parts.reduce((n, p) => n + p.length, 0)): Uint8Array {
  const out = new Uint8Array(total)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** A copy that owns its memory (not a view that would keep a larger chunk alive). */
export function copy (bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes)
}

/** Bytes as latin1 text (one character per byte). */
export function latin1 (bytes: Uint8Array): string {
  let text = ''
  for (const byte of bytes) text += String.fromCharCode(byte)
  return text
}
