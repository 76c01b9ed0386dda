import test from 'tape'
import { once } from 'node:events'
import { pipeline, PassThrough } from 'node:stream'
import { codes, type ScuttledbError } from '../lib/index.js'
import { memoryModel, link, allHistory, until, sleep, frame, stalledLink } from './helpers.js'


const header = (id = 'PEER', clock: unknown = {}): Buffer => frame({ id, clock })

test('keys such as __proto__, constructor and toString work and replicate', async (t) => {
  const a = await memoryModel(t)
  const b = await memoryModel(t)
  const keys = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'change', 'error']
  for (const k of keys) await a.set(k, k + '!')
  const l = link(a, b)
  await l.synced
  for (const k of keys) t.equal(await b.get(k), k + '!', `${k} replicated`)
  const snapshot = await b.toJSON()
  t.deepEqual(Object.keys(snapshot).sort(), [...keys].sort(), 'own properties in the snapshot')
  t.equal(Object.getPrototypeOf(snapshot), Object.prototype, 'the snapshot prototype is untouched')
})

test('garbage on a stream is a coded error on that stream, not a crash, and the stream closes', async (t) => {
  const a = await memoryModel(t)
  await a.set('keep', 1)
  const s = a.createStream()
  const errors: ScuttledbError[] = []
  s.on('error', (err) => errors.push(err as ScuttledbError))
  const rejected = once(a, 'rejected')
  const closed = new Promise((resolve) => s.once('close', resolve))
  s.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
  const [err] = await rejected
  await closed
  t.equal(err.code, codes.FRAME_TOO_LARGE, 'an HTTP request reads as an oversized frame')
  t.equal(errors[0]?.code, codes.FRAME_TOO_LARGE, 'the stream emitted the coded error')
  t.equal(a.streams, 0, 'the stream is gone')
  t.equal(await a.get('keep'), 1, 'the instance goes on')
})

test('a malformed message closes the stream even with no error listener', async (t) => {
  const a = await memoryModel(t)
  const cases: Array<[string, Buffer, string]> = [
    ['a header without a clock', frame({ id: 'X' }), codes.INVALID_MESSAGE],
    ['a blank value', frame(''), codes.INVALID_MESSAGE],
    ['truncated msgpack inside a frame', Buffer.from([0, 0, 0, 2, 0x92, 0x01]), codes.INVALID_FRAME],
    ['the never-used byte 0xc1', Buffer.from([0, 0, 0, 1, 0xc1]), codes.INVALID_MESSAGE],
    ['an empty frame', Buffer.from([0, 0, 0, 0]), codes.INVALID_FRAME],
    ['an update before the header', frame([['k', 1], 1, 'P']), codes.HEADER_EXPECTED],
    ['a clock entry that is not a number', frame({ id: 'X', clock: { P: 'soon' } }), codes.INVALID_MESSAGE]
  ]
  for (const [name, bytes, code] of cases) {
    const s = a.createStream()
    const rejected = once(a, 'rejected')
    s.write(bytes)
    const [err] = await rejected
    await once(s, 'close')
    t.equal(err.code, code, name)
  }
  t.equal(a.streams, 0, 'every stream closed')
})

test('a second header is an error and does not resend history', async (t) => {
  const a = await memoryModel(t)
  for (let i = 0; i < 10; i++) await a.set('k' + i, i)
  const s = a.createStream()
  s.on('error', () => {})
  s.resume()
  s.write(header())
  await once(s, 'syncSent')
  const listeners = a.listenerCount('update')
  const rejected = once(a, 'rejected')
  const closed = new Promise((resolve) => s.once('close', resolve))
  s.write(header())
  const [err] = await rejected
  t.equal(err.code, codes.DUPLICATE_HEADER, 'coded error')
  await closed
  t.equal(s.progress.sent, 10, 'history was sent once')
  t.equal(a.listenerCount('update'), listeners, 'no listener added')
})

test('a NaN or non-number timestamp is rejected without moving the clock (msgpack carries NaN)', async (t) => {
  const a = await memoryModel(t)
  for (const ts of [NaN, Infinity, -1, 0, '1']) {
    const s = a.createStream()
    const rejected = once(a, 'rejected')
    s.write(Buffer.concat([header(), frame([['k', 'bad'], ts, 'P'])]))
    const [err] = await rejected
    t.equal(err.code, codes.INVALID_MESSAGE, `ts ${String(ts)} rejected`)
  }
  t.deepEqual(a.clock, {}, 'the clock did not move')
  t.equal((await allHistory(a)).length, 0, 'nothing stored')
  const s = a.createStream()
  s.write(Buffer.concat([header(), frame([['k', 'good'], Date.now(), 'P'])]))
  t.ok(await until(async () => (await a.get('k')) === 'good'), 'a genuine update from the same source is accepted')
  s.destroy()
})

test('a timestamp further ahead than maxClockSkew is rejected; later genuine updates still work', async (t) => {
  const a = await memoryModel(t, { maxClockSkew: 1000 })
  const s = a.createStream()
  const rejected = once(a, 'rejected')
  s.write(Buffer.concat([header(), frame([['k', 'future'], Date.now() + 3_600_000, 'P'])]))
  const [err] = await rejected
  t.equal(err.code, codes.CLOCK_SKEW, 'coded rejection')
  t.deepEqual(a.clock, {}, 'the clock did not move')
  s.write(frame([['k', 'now'], Date.now(), 'P']))
  t.ok(await until(async () => (await a.get('k')) === 'now'), 'the stream stays usable for genuine updates')
  t.equal(a.stats.rejected, 1, 'counted')
  s.destroy()
})

test('an oversized frame is refused from its length alone', async (t) => {
  const a = await memoryModel(t)
  const s = a.createStream({ maxFrameBytes: 1024 })
  const rejected = once(a, 'rejected')
  const head = Buffer.alloc(4)
  head.writeUInt32BE(2000)
  s.write(Buffer.concat([header(), head]))
  const [err] = await rejected
  t.equal(err.code, codes.FRAME_TOO_LARGE, 'refused before the body arrived')
})

test('a change of the wrong shape for the data type is rejected and nothing is stored', async (t) => {
  const a = await memoryModel(t)
  const s = a.createStream()
  const rejected = once(a, 'rejected')
  s.write(Buffer.concat([header(), frame([[42, 'v'], Date.now(), 'P'])]))
  const [err] = await rejected
  t.equal(err.code, codes.INVALID_MESSAGE, 'coded')
  await sleep(10)
  t.equal((await allHistory(a)).length, 0, 'nothing stored')
})

test('a peer that never reads does not make the sender buffer the history', async (t) => {
  const a = await memoryModel(t)
  const b = await memoryModel(t)
  for (let i = 0; i < 20000; i++) void a.set('k' + i, i)
  await a.set('last', 1)
  const sa = a.createStream()
  const sb = b.createStream()
  sb.pipe(sa) // a gets b's header, but nobody reads a's output yet
  await sleep(200)
  t.ok(sa.progress.sent < 5000, `sender stopped early (sent ${sa.progress.sent} of 20001)`)
  const synced = once(sb, 'sync')
  sa.pipe(sb)
  await synced
  t.equal(await b.get('last'), 1, 'everything arrives once the peer reads')
  t.equal((await allHistory(b)).length, 20001, 'whole history')
})

test('live updates for a stalled peer are re-read from storage, not queued without bound', async (t) => {
  const a = await memoryModel(t)
  const b = await memoryModel(t)
  const { a: sa, resume } = await stalledLink(a, b)
  for (let i = 0; i < 12000; i++) void a.set('live' + i, i)
  await a.set('done', true)
  await sleep(50)
  resume()
  t.ok(await until(async () => (await b.get('done')) === true, 10000), 'the last update arrives')
  t.equal((await allHistory(b)).length, 12001, 'no update lost')
  t.ok(sa.progress.sent <= 12001 + 4096, 'no large resend')
})

test('a transport error ends the replication stream and frees it', async (t) => {
  const a = await memoryModel(t)
  const b = await memoryModel(t)
  const wire = new PassThrough()
  const sa = a.createStream()
  const sb = b.createStream()
  const done = new Promise((resolve) => pipeline(sa, wire, sb, sa, resolve))
  await once(sb, 'sync')
  wire.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))
  const err = await done as NodeJS.ErrnoException
  t.equal(err.code, 'ECONNRESET', 'the pipeline reports the transport error')
  t.ok(await until(() => a.streams === 0 && b.streams === 0), 'both replication streams are gone')
})
