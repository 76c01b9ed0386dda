import { Packr } from 'msgpackr'

/**
 * The one msgpack configuration used on disk and on the wire: plain msgpack maps
 * (records and structured cloning off, so any msgpack decoder reads our bytes),
 * 64-bit integers as numbers when they are safe integers (foreign encoders may
 * send whole-ms timestamps as uint64) and as BigInt otherwise, so a value that a
 * number cannot hold exactly is seen, and refused, rather than silently rounded;
 * and copied binary so decoded values never pin a whole network chunk.
 */
export const msgpack = new Packr({
  useRecords: false,
  moreTypes: false,
  structuredClone: false,
  variableMapSize: true,
  // 'auto' is supported by msgpackr 2.x but missing from its type declarations.
  int64AsType: 'auto' as 'number',
  copyBuffers: true,
  // A plain object's own `toJSON` key is data: without this, msgpackr calls it when the object
  // also has an own `constructor` key (it then leaves its plain-object path), and throws.
  useToJSON: false
})

/** Encode a value as msgpack. */
export function pack (value: unknown): Buffer {
  return msgpack.pack(value)
}

/** Decode one complete msgpack value; throws on trailing bytes or unknown extensions. */
export function unpack (bytes: Uint8Array): unknown {
  return msgpack.unpack(bytes)
}

/** An abstract-level value encoding that stores values as msgpack. */
export const msgpackEncoding = {
  name: 'scuttledb-msgpack',
  format: 'buffer' as const,
  encode: (value: unknown): Buffer => msgpack.pack(value),
  decode: (bytes: Buffer): unknown => msgpack.unpack(bytes)
}
