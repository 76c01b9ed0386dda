import test from 'tape'
import { PassThrough } from 'node:stream'
import { MemoryLevel } from 'memory-level'
import { Events, Value, codes, type ScuttledbError } from '../lib/index.js'
import { memoryModel, diskModel, link, allHistory, until, frame, captureUncaught } from './helpers.js'

/** Values outside the domain, each with why: refused at the call, nothing stored. */
function outside (): Array<[string, unknown]> {
  const sparse: unknown[] = [1]
  sparse[2] = 3
  class Point { x = 1 }
  const withSymbol: Record<string | symbol, unknown> = { a: 1 }
  withSymbol[Symbol('s')] = 2
  let deep: unknown = 1
  for (let i = 0; i < 300; i++) deep = [deep]
  return [
    ['a function', () => 1],
    ['a symbol', Symbol('x')],
    ['a small BigInt', 5n],
    ['a BigInt beyond 64 bits', 2n ** 70n],
    ['a Map', new Map([[1, 2]])],
    ['a Set', new Set([1])],
    ['a Date', new Date(0)],
    ['NaN', NaN],
    ['Infinity', -Infinity],
    ['-0', -0],
    ['a Uint16Array', new Uint16Array([1, 2, 3])],
    ['a Float64Array', new Float64Array([1.5])],
    ['a DataView', new DataView(new ArrayBuffer(2))],
    ['an ArrayBuffer', new ArrayBuffer(4)],
    ['a lone surrogate', 'a\ud800b'],
    ['a lone surrogate in an object key', { 'k\udc00': 1 }],
    ['the object key __proto__', JSON.parse('{"__proto__": 1}')],
    ['undefined inside an array', [1, undefined]],
    ['undefined inside an object', { a: undefined }],
    ['an array with holes', sparse],
    ['a class instance', new Point()],
    ['an object with symbol keys', withSymbol],
    ['nesting 300 levels deep', deep],
    ['a value larger than a frame', 'x'.repeat(17 * 1024 * 1024)]
  ]
}

test('every data type refuses values outside the domain at the call, with SCUTTLEDB_INVALID_VALUE, and stores nothing', async (t) => {
  const model = await memoryModel(t)
  const value = new Value({ db: new MemoryLevel() })
  await value.open()
  const events = new Events({ db: new MemoryLevel() })
  await events.open()
  t.teardown(async () => { await value.close(); await events.close() })
  const calls: Array<[string, (v: unknown) => Promise<unknown>]> = [
    ['Model.set', async (v) => await model.set('k', v as never)],
    ['Value.set', async (v) => await value.set(v as never)],
    ['Events.record', async (v) => await events.record('e', v as never)],
    ['Events.emit (throws at the call)', async (v) => events.emit('e', v as never)],
    ['Model.localUpdate', async (v) => await model.localUpdate(['k', v])]
  ]
  for (const [call, fn] of calls) {
    for (const [what, v] of outside()) {
      try {
        await fn(v)
        t.fail(`${call} accepted ${what}`)
      } catch (err) {
        t.ok(err instanceof TypeError && (err as { code?: string }).code === codes.INVALID_VALUE, `${call} refuses ${what} with ${codes.INVALID_VALUE}`)
      }
    }
  }
  t.deepEqual(await allHistory(model), [], 'the Model stored nothing')
  t.deepEqual(await allHistory(value), [], 'the Value stored nothing')
  t.deepEqual(await allHistory(events), [], 'Events stored nothing')
  for (const x of [model, value, events]) t.deepEqual(x.clock, {}, 'no clock moved')
  await model.set('after', 1)
  t.equal(await model.get('after'), 1, 'the instance goes on')
})

/** Values inside the domain: each must come back exactly. */
function inside (): Array<[string, unknown]> {
  const backing = Buffer.from([9, 9, 1, 2, 3, 9])
  const nullProto = Object.create(null) as Record<string, unknown>
  nullProto.x = 1
  return [
    ['a string with every kind of character', 'a\u0000\u007f\u00ff\u0100\ud7ff\ue000\uffff\ud83d\ude00 end'],
    ['an empty string', ''],
    ['2^60', 2 ** 60],
    ['-(2^53 - 1)', -(2 ** 53 - 1)],
    ['the smallest subnormal', 5e-324],
    ['the largest double', Number.MAX_VALUE],
    ['a fraction', 0.1 + 0.2],
    ['zero', 0],
    ['booleans and null in an array', [true, false, null]],
    ['nested objects and arrays', { a: [1, { b: null, c: [[]] }], 'ü': 'ß', e: {} }],
    ['an object with a null prototype', nullProto],
    ['the string __proto__ as a value', '__proto__'],
    ['a Buffer', Buffer.from([0, 1, 254, 255])],
    ['a Uint8Array view into a larger buffer', new Uint8Array(backing.buffer, backing.byteOffset + 2, 3)],
    ['an empty Uint8Array', new Uint8Array(0)],
    ['binary nested in an object', { bytes: Buffer.from('hi') }],
    ['an object with own keys constructor and toJSON', { constructor: 1, toJSON: 'x' }],
    ['such an object nested in an array', [{ toJSON: { a: 1 }, constructor: null }]],
    ['nesting 200 levels deep', JSON.parse('['.repeat(200) + '1' + ']'.repeat(200))]
  ]
}

/** What a value reads back as: binary comes back as a Buffer with the same bytes. */
function expected (v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength)
  if (Array.isArray(v)) return v.map(expected)
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, expected(x)]))
  return v
}

test('every value in the domain round-trips exactly through storage, a reopen, history and a msgpack peer', async (t) => {
  const a = await diskModel(t)
  const b = await memoryModel(t)
  const cases = inside()
  for (const [i, [, v]] of cases.entries()) await a.set('k' + i, v as never)
  const l = link(a, b)
  await l.synced
  for (const [i, [what, v]] of cases.entries()) {
    const got = await a.get('k' + i)
    t.deepEqual(got, expected(v), `get() returns ${what}`)
    t.ok(Object.is(got, expected(v)) || typeof v === 'object', `${what} is the same primitive`)
    t.deepEqual(await b.get('k' + i), expected(v), `a msgpack peer holds ${what}`)
  }
  const history = await allHistory(a) as Array<[[string, unknown], number, string]>
  for (const [i, [what, v]] of cases.entries()) {
    const update = history.find((u) => u[0][0] === 'k' + i)
    t.deepEqual(update?.[0][1], expected(v), `history() holds ${what}`)
  }
  l.a.destroy()
  await l.closed
})

test('a JSON peer gets every JSON value exactly; updates holding binary are skipped with SCUTTLEDB_UNSENDABLE, never crashing or losing the rest', async (t) => {
  const uncaught = captureUncaught(t)
  const a = await memoryModel(t)
  const b = await memoryModel(t)
  const unsendable: ScuttledbError[] = []
  a.on('unsendable', (err) => unsendable.push(err))
  const cases = inside()
  for (const [i, [, v]] of cases.entries()) await a.set('k' + i, v as never)
  const l = link(a, b, { wrapper: 'json' }, { wrapper: 'json' })
  await l.synced
  const binary = new Set(['a Buffer', 'a Uint8Array view into a larger buffer', 'an empty Uint8Array', 'binary nested in an object'])
  for (const [i, [what, v]] of cases.entries()) {
    if (binary.has(what)) t.equal(await b.get('k' + i), undefined, `${what} is not sent over JSON`)
    else t.deepEqual(await b.get('k' + i), expected(v), `the JSON peer holds ${what}`)
  }
  t.equal(unsendable.length, binary.size, 'each binary update was reported once')
  t.ok(unsendable.every((err) => err.code === codes.UNSENDABLE), `reported as ${codes.UNSENDABLE}`)
  // Live: a binary update between two JSON values.
  await Promise.all([a.set('live1', 'x'), a.set('liveBin', Buffer.from([1])), a.set('live2', 'y')])
  t.ok(await until(async () => await b.get('live2') === 'y'), 'the live update after the binary one arrives')
  t.equal(await b.get('live1'), 'x', 'and the one before it')
  t.equal(unsendable.length, binary.size + 1, 'the live binary update was reported')
  t.deepEqual(uncaught, [], 'no uncaught exception')
  l.a.destroy()
  await l.closed
})

test('a remote update outside the domain closes that stream with SCUTTLEDB_INVALID_MESSAGE and stores nothing', async (t) => {
  const uncaught = captureUncaught(t)
  const ts = Date.now()
  const raw = (hex: string): Buffer => {
    const body = Buffer.from(hex, 'hex')
    const head = Buffer.alloc(4)
    head.writeUInt32BE(body.length)
    return Buffer.concat([head, body])
  }
  const tsHex = Buffer.alloc(8)
  tsHex.writeDoubleBE(ts)
  // [["k", <value>], ts, "P"] with the value's msgpack bytes spliced in.
  const update = (valueHex: string): Buffer => raw('93' + '92a16b' + valueHex + 'cb' + tsHex.toString('hex') + 'a150')
  const cases: Array<[string, Buffer, string]> = [
    ['a uint64 beyond 2^53 (it would round)', update('cf0020000000000001'), 'msgpack'],
    ['an int64 beyond -2^53', update('d3ffdfffffffffffff'), 'msgpack'],
    ['undefined (fixext 1, type 0)', update('d40000'), 'msgpack'],
    ['a Date (timestamp extension)', update('d6ff00000001'), 'msgpack'],
    ['NaN', update('cb7ff8000000000000'), 'msgpack'],
    ['-0 as a float', update('cb8000000000000000'), 'msgpack'],
    ['a BigInt signature', raw('94' + '92a16ba176' + 'cb' + tsHex.toString('hex') + 'a150' + 'cf0020000000000001'), 'msgpack'],
    ['a lone surrogate over JSON', Buffer.from(`{"id":"P","clock":{}}\n[["k","a\\ud800"],${ts},"P"]\n`), 'json'],
    ['the key __proto__ in a JSON object', Buffer.from(`{"id":"P","clock":{}}\n[["k",{"__proto__":1}],${ts},"P"]\n`), 'json']
  ]
  const a = await memoryModel(t)
  for (const [what, bytes, wrapper] of cases) {
    const s = a.createStream({ wrapper: wrapper as 'json' | 'msgpack' })
    const errors: ScuttledbError[] = []
    s.on('error', (err) => errors.push(err as ScuttledbError))
    s.resume()
    // Not events.once: it rejects on the stream's 'error', which is what is expected here.
    const closed = new Promise((resolve) => s.once('close', resolve))
    s.write(wrapper === 'json' ? bytes : Buffer.concat([frame({ id: 'P', clock: {} }), bytes]))
    await closed
    t.deepEqual(errors.map((e) => e.code), [codes.INVALID_MESSAGE], `${what}: the stream errors with ${codes.INVALID_MESSAGE} and closes`)
  }
  t.deepEqual(await allHistory(a), [], 'nothing was stored')
  t.deepEqual(a.clock, {}, 'the clock did not move')
  t.equal(a.streams, 0, 'every bad stream closed')
  await a.set('k', 'ok')
  t.equal(await a.get('k'), 'ok', 'the instance goes on')
  t.deepEqual(uncaught, [], 'no uncaught exception')
})

test('a BigInt from a msgpack peer never reaches a live JSON stream: the JSON peer keeps replicating', async (t) => {
  const uncaught = captureUncaught(t)
  const a = await memoryModel(t)
  const b = await memoryModel(t)
  const l = link(a, b, { wrapper: 'json' }, { wrapper: 'json' })
  await l.synced
  const hostile = a.createStream()
  hostile.on('error', () => {})
  hostile.resume()
  const tsHex = Buffer.alloc(8)
  tsHex.writeDoubleBE(Date.now())
  const body = Buffer.from('93' + '92a16bcf0020000000000001' + 'cb' + tsHex.toString('hex') + 'a150', 'hex')
  const head = Buffer.alloc(4)
  head.writeUInt32BE(body.length)
  const wire = new PassThrough()
  wire.pipe(hostile)
  const closed = new Promise((resolve) => hostile.once('close', resolve))
  wire.write(Buffer.concat([frame({ id: 'P', clock: {} }), head, body]))
  await closed
  await a.set('after', 1)
  t.ok(await until(async () => await b.get('after') === 1), 'the JSON peer gets the next update')
  t.equal(await b.get('k'), undefined, 'the BigInt update was never stored or sent')
  t.deepEqual(uncaught, [], 'no uncaught exception (0.1.0 crashed the process here)')
  l.a.destroy()
  await l.closed
})
