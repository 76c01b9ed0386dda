// Red-team round 11m, coverage: the frame decoders under lying length prefixes and every
// split of the input. Work is counted (bytes copied by Uint8Array#set, which joins use),
// never timed.
import test from 'tape'
import { jsonCodec, msgpackCodec, type Codec } from '../lib/codec.js'
import { pack } from '../lib/msgpack.js'

const session = (codec: Codec): Uint8Array => {
  const parts = [codec.encode({ id: 'peer', clock: {} })]
  for (let i = 0; i < 5; i++) parts.push(codec.encodeUpdates([[undefined, pack([['k' + i, 'v\u00e9' + i], i + 1, 'peer'])]]))
  parts.push(codec.encode('SYNC'))
  return Buffer.concat(parts)
}

function decodeAll (codec: Codec, chunks: Uint8Array[], max = 1024 * 1024): { values: unknown[], error?: string } {
  const values: unknown[] = []
  const d = codec.decoder(max)
  try {
    for (const c of chunks) d.write(c, (v) => { values.push(v) })
    d.end()
  } catch (err) {
    return { values, error: String((err as { code?: string }).code) }
  } finally {
    d.dispose()
  }
  return { values }
}

for (const codec of [msgpackCodec, jsonCodec]) {
  test(`${codec.name}: a session split in two at every offset, or in three, decodes as a whole`, (t) => {
    const bytes = session(codec)
    const whole = decodeAll(codec, [bytes])
    t.equal(whole.values.length, 7, 'seven messages')
    let bad = 0
    for (let i = 0; i <= bytes.length; i++) {
      for (let j = i; j <= bytes.length; j += 3) {
        const split = decodeAll(codec, [bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)])
        if (split.error !== undefined || JSON.stringify(split.values) !== JSON.stringify(whole.values)) bad++
      }
    }
    t.equal(bad, 0, 'every split decodes the same')
    t.end()
  })

  test(`${codec.name}: a large message one byte at a time costs work linear in its size`, (t) => {
    const value = 'x'.repeat(256 * 1024)
    const bytes = codec === msgpackCodec ? codec.encode(value) : Buffer.from(JSON.stringify(value) + '\n')
    const set = Uint8Array.prototype.set
    let copied = 0
    Uint8Array.prototype.set = function (this: Uint8Array, array: ArrayLike<number>, offset?: number) { copied += array.length; set.call(this, array, offset) }
    let result
    try {
      result = decodeAll(codec, Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1)))
    } finally {
      Uint8Array.prototype.set = set
    }
    t.equal(result.error, undefined, 'no error')
    t.equal(result.values[0], value, 'decoded')
    t.ok(copied <= 4 * bytes.length, `bytes copied (${copied}) stay within 4x the message (${bytes.length})`)
    t.end()
  })
}

test('msgpack: lying length prefixes are coded errors', (t) => {
  const body = pack('SYNC')
  const head = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b }
  t.equal(decodeAll(msgpackCodec, [head(0)]).error, 'SCUTTLEDB_INVALID_FRAME', 'zero length')
  t.equal(decodeAll(msgpackCodec, [head(2 ** 32 - 1).subarray(0, 2), head(2 ** 32 - 1).subarray(2)]).error, 'SCUTTLEDB_FRAME_TOO_LARGE', 'huge, its header split')
  t.equal(decodeAll(msgpackCodec, [Buffer.concat([head(body.length + 3), body])]).error, 'SCUTTLEDB_INVALID_FRAME', 'longer than what follows, then the end')
  t.equal(decodeAll(msgpackCodec, [Buffer.concat([head(body.length - 1), body])]).error, 'SCUTTLEDB_INVALID_FRAME', 'shorter than its value')
  t.equal(decodeAll(msgpackCodec, [Buffer.concat([head(body.length * 2), body, body])]).error, 'SCUTTLEDB_INVALID_FRAME', 'two values in one frame')
  t.equal(decodeAll(msgpackCodec, [head(1).subarray(0, 3)]).error, 'SCUTTLEDB_INVALID_FRAME', 'the end inside a header')
  t.end()
})
