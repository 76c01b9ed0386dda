/**
 * A check on a peer's msgpack bytes for what msgpackr decodes as a value the peer
 * never sent (lib/codec.ts runs it on every frame it has decoded).
 */

/** What `wireProblem` finds. */
export type WireProblem = 'a string that is not UTF-8' | 'a map key that is not a string' | 'the object key __proto__' | 'an extension type'

/** `__proto__` in UTF-8. */
const PROTO = [0x5f, 0x5f, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x5f, 0x5f]

function isProto (bytes: Uint8Array, start: number, length: number): boolean {
  if (length !== PROTO.length) return false
  for (let i = 0; i < length; i++) if (bytes[start + i] !== PROTO[i]) return false
  return true
}

/** True when bytes[start, end) are well-formed UTF-8 (RFC 3629: no overlongs, no surrogates); allocates nothing. */
function isUtf8 (bytes: Uint8Array, start: number, end: number): boolean {
  let i = start
  while (i < end) {
    const b = bytes[i] as number
    if (b < 0x80) {
      i++
      continue
    }
    // The continuation bytes after the lead, and the range of the first (it rules out overlongs and surrogates).
    let more: number
    let low = 0x80
    let high = 0xbf
    if (b >= 0xc2 && b <= 0xdf) {
      more = 1
    } else if (b >= 0xe0 && b <= 0xef) {
      more = 2
      if (b === 0xe0) low = 0xa0
      else if (b === 0xed) high = 0x9f
    } else if (b >= 0xf0 && b <= 0xf4) {
      more = 3
      if (b === 0xf0) low = 0x90
      else if (b === 0xf4) high = 0x8f
    } else {
      return false
    }
    if (i + more >= end) return false
    const first = bytes[i + 1] as number
    if (first < low || first > high) return false
    for (let k = 2; k <= more; k++) if (((bytes[i + k] as number) & 0xc0) !== 0x80) return false
    i += more + 1
  }
  return true
}

const uint16 = (bytes: Uint8Array, pos: number): number => ((bytes[pos] as number) << 8) | (bytes[pos + 1] as number)
const uint32 = (bytes: Uint8Array, pos: number): number => (((bytes[pos] as number) << 24) >>> 0) + (uint16(bytes, pos + 2) + (((bytes[pos + 1] as number) << 16) >>> 0))

/**
 * What a peer's msgpack value (`bytes`, which `unpack` has decoded) holds that msgpackr
 * would decode as a different value, and so no value in the domain can have sent:
 * a str that is not UTF-8 (decoded with U+FFFD), a map key that is not a str (decoded
 * as its text: 1 as '1'), the key `__proto__` (decoded as `__proto_`), an extension
 * (a record decodes as a plain object). Undefined when none.
 */
export function wireProblem (bytes: Uint8Array): WireProblem | undefined {
  // Iterative, so a deep value costs no stack: per open container, its items left times two, plus one for a map.
  const open: number[] = []
  let left = 1
  let inMap = false
  let pos = 0
  while (pos < bytes.length) {
    while (left === 0) {
      const outer = open.pop()
      if (outer === undefined) return undefined
      left = Math.floor(outer / 2)
      inMap = outer % 2 === 1
    }
    // A map's items alternate key, value: a key has an even count left before it.
    const isKey = inMap && left % 2 === 0
    left--
    const b = bytes[pos++] as number
    let strLength = -1
    if (b >= 0xa0 && b <= 0xbf) {
      strLength = b & 0x1f
    } else if (b === 0xd9) {
      strLength = bytes[pos++] as number
    } else if (b === 0xda) {
      strLength = uint16(bytes, pos)
      pos += 2
    } else if (b === 0xdb) {
      strLength = uint32(bytes, pos)
      pos += 4
    }
    if (strLength >= 0) {
      if (isKey && isProto(bytes, pos, strLength)) return 'the object key __proto__'
      if (!isUtf8(bytes, pos, pos + strLength)) return 'a string that is not UTF-8'
      pos += strLength
      continue
    }
    if (isKey) return 'a map key that is not a string'
    // No extension is in the value domain, and msgpackr's record extension decodes (as a plain
    // object, whatever useRecords says) into what no other decoder reads from those bytes.
    if ((b >= 0xc7 && b <= 0xc9) || (b >= 0xd4 && b <= 0xd8)) return 'an extension type'
    const map = (b >= 0x80 && b <= 0x8f) || b === 0xde || b === 0xdf
    let items = -1
    if (b >= 0x80 && b <= 0x9f) {
      items = b & 0x0f
    } else if (b === 0xdc || b === 0xde) {
      items = uint16(bytes, pos)
      pos += 2
    } else if (b === 0xdd || b === 0xdf) {
      items = uint32(bytes, pos)
      pos += 4
    }
    if (items >= 0) {
      // Up to 2^33 items left (a map of 2^32 entries): still exact times two, as a number.
      open.push(left * 2 + (inMap ? 1 : 0))
      left = map ? 2 * items : items
      inMap = map
      continue
    }
    pos += skipBytes(b, bytes, pos)
  }
  return undefined
}

/** The bytes after the type byte `b` of a value that is not a str, a container or an extension. */
function skipBytes (b: number, bytes: Uint8Array, pos: number): number {
  switch (b) {
    case 0xc4: return 1 + (bytes[pos] as number)
    case 0xc5: return 2 + uint16(bytes, pos)
    case 0xc6: return 4 + uint32(bytes, pos)
    case 0xca: case 0xce: case 0xd2: return 4
    case 0xcb: case 0xcf: case 0xd3: return 8
    case 0xcc: case 0xd0: return 1
    case 0xcd: case 0xd1: return 2
    // Fixints, nil, booleans.
    default: return 0
  }
}
