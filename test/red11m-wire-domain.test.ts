// Red-team round 11m. msgpack frames from a peer were stored as whatever msgpackr made of
// them, which is not always what the peer sent:
// - a str that is not UTF-8 decoded with U+FFFD ("a\xffb" stored as "a\ufffdb"), a value
//   the peer never sent (the JSON wire refuses such a line since 11i);
// - the map key "__proto__", outside the value domain (value-domain.ts: rejected when it
//   comes from a peer), came out renamed "__proto_" by msgpackr's guard and was stored so;
// - a map key that is not a string (1, nil, 1.5) came out as its text ("1", "null", "1.5"),
//   so {1: x} was held and sent on as {"1": x} while its stored bytes still said 1;
// - msgpackr's record extension decoded (records off is only for encoding) as a plain object
//   and was stored as those bytes, which no other msgpack decoder reads as that object; its
//   keys and what follows it escaped the checks (a record key __proto__, 1, "a\xffb").
// Each must close the stream with a coded error and store nothing; a value that merely looks
// like one of these (a real U+FFFD, a "__proto_" key, high bytes in binary) still goes through.
import test from 'tape'
import type { ReplicationStream } from '../lib/index.js'
import { pack } from '../lib/msgpack.js'
import { diskModel, frame, link } from './helpers.js'

/** The stream's error code, or 'none' once it synced or closed without one. */
async function outcome (s: ReplicationStream): Promise<string> {
  return await new Promise((resolve) => {
    s.once('error', (err) => { resolve(String((err as { code?: string }).code)) })
    s.once('syncReceived', () => { setImmediate(() => { resolve('none') }) })
    s.once('close', () => { setImmediate(() => { resolve('none') }) })
  })
}

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')
const str = (s: string): string => { const b = Buffer.from(s, 'latin1'); return (b.length < 32 ? (0xa0 | b.length).toString(16) : 'd9' + b.length.toString(16).padStart(2, '0')) + b.toString('hex') }
/** The frame of [['k', value], 5, 'peer'], value given as msgpack hex. */
const update = (value: string): Buffer => { const body = hex('93 92 a16b' + value + '05 a470656572'); const out = Buffer.alloc(4 + body.length); out.writeUInt32BE(body.length); body.copy(out, 4); return out }

async function feed (t: test.Test, value: string): Promise<{ code: string, stored: unknown }> {
  const db = await diskModel(t)
  const s = db.createStream()
  const result = outcome(s)
  s.resume()
  s.write(frame({ id: 'peer', clock: {} }))
  s.write(update(value))
  s.write(frame('SYNC'))
  const code = await result
  return { code, stored: await db.toJSON() }
}

const refused: Array<[string, string, string]> = [
  ['a fixstr that is not UTF-8', 'a3 61ff62', 'SCUTTLEDB_INVALID_FRAME'],
  ['a str8 that is not UTF-8', 'd9 03 61ff62', 'SCUTTLEDB_INVALID_FRAME'],
  ['a long str that is not UTF-8', 'd9 50' + '61'.repeat(79) + 'ff', 'SCUTTLEDB_INVALID_FRAME'],
  ['an encoded surrogate (CESU-8)', 'a3 eda080', 'SCUTTLEDB_INVALID_FRAME'],
  ['a map key that is not UTF-8', '81 a2 61ff 01', 'SCUTTLEDB_INVALID_FRAME'],
  ['the map key __proto__', '81 ' + str('__proto__') + ' 01', 'SCUTTLEDB_INVALID_MESSAGE'],
  ['the map key __proto__ as str8', '81 d9 09' + Buffer.from('__proto__').toString('hex') + ' 01', 'SCUTTLEDB_INVALID_MESSAGE'],
  ['an integer map key', '81 01 a178', 'SCUTTLEDB_INVALID_MESSAGE'],
  ['a nil map key', '81 c0 a178', 'SCUTTLEDB_INVALID_MESSAGE'],
  ['a float map key', '81 cb 3ff8000000000000 a178', 'SCUTTLEDB_INVALID_MESSAGE'],
  ['a nested integer map key', '91 81 a161 81 07 01', 'SCUTTLEDB_INVALID_MESSAGE'],
  // msgpackr's record extension (0x72) decodes even with useRecords: false, as a plain object,
  // and its keys skip every check above: no other decoder reads such bytes as that object.
  ['a msgpackr record', 'd47240 92a161a162 0102', 'SCUTTLEDB_INVALID_MESSAGE'],
  ['a record with the key __proto__', 'd47240 91' + str('__proto__') + ' 81a17801', 'SCUTTLEDB_INVALID_MESSAGE'],
  ['a record with an integer key', 'd47240 91 01 a178', 'SCUTTLEDB_INVALID_MESSAGE'],
  ['a record holding a str that is not UTF-8', 'd47240 92a161a162 01 a361ff62', 'SCUTTLEDB_INVALID_MESSAGE']
]

for (const [what, value, code] of refused) {
  test(`${what} closes the stream with ${code} and stores nothing`, async (t) => {
    const { code: got, stored } = await feed(t, value)
    t.equal(got, code, 'coded error')
    t.deepEqual(stored, {}, `nothing stored (${JSON.stringify(stored)})`)
  })
}

test('values that only look like those are stored exactly', async (t) => {
  const values: unknown[] = [
    'a\ufffdb',
    { __proto_: 1, 'caf\u00e9': '\u{1F600}' },
    Buffer.from([0xff, 0xed, 0xa0, 0x80, 0xa3, 0x61, 0xff, 0x62]),
    { k: [Buffer.from('__proto__'), '__proto__', 1.5, -1, 2 ** 40] }
  ]
  for (const value of values) {
    const { code, stored } = await feed(t, pack(value).toString('hex'))
    t.equal(code, 'none', `no error for ${JSON.stringify(value)}`)
    t.deepEqual(stored, { k: value }, 'stored as sent')
  }
})

test('what a foreign encoder may send otherwise (uint64, float32, a long header for a short str, a repeated key) is held as decoded, and replicates so over msgpack and JSON', async (t) => {
  const cases: Array<[string, unknown]> = [
    ['cf 0000000000000005', 5],
    ['ca 3dcccccd', Math.fround(0.1)],
    ['d9 01 61', 'a'],
    ['82 a161 01 a161 02', { a: 2 }]
  ]
  for (const [value, expected] of cases) {
    const db = await diskModel(t)
    const s = db.createStream()
    const result = outcome(s)
    s.resume()
    s.write(frame({ id: 'peer', clock: {} }))
    s.write(update(value))
    s.write(frame('SYNC'))
    t.equal(await result, 'none', `${value}: no error`)
    t.deepEqual(await db.get('k'), expected, `${value}: held as decoded`)
    for (const wrapper of ['msgpack', 'json'] as const) {
      const third = await diskModel(t)
      const l = link(db, third, { wrapper }, { wrapper })
      await l.synced
      t.deepEqual(await third.get('k'), expected, `${value}: a third node over ${wrapper} holds the same`)
      l.a.destroy()
      l.b.destroy()
    }
  }
})
