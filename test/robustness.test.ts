import test from 'tape'
import { once } from 'node:events'
import { PassThrough, pipeline } from 'node:stream'
import { MemoryLevel } from 'memory-level'
import { Events, codes, type ScuttledbError } from '../lib/index.js'
import { memoryModel, link, allHistory, until, sleep, rejects, frame, captureUncaught, stalledLink } from './helpers.js'


for (const proven of [true, false]) {
  test(`a ${proven ? 'proven' : 'anonymous'} peer claiming a later clock for this node never makes a local write vanish${proven ? '' : ', and does not lift its stamps'}`, async (t) => {
    const a = await memoryModel(t)
    // What a transport passes once the peer proved its id in the handshake.
    const s = proven ? a.createStream({}, { peer: 'PEER' }) : a.createStream()
    s.resume()
    const ahead = Date.now() + 30_000
    s.write(Buffer.concat([frame({ id: 'PEER', clock: { [a.id]: ahead } }), frame('SYNC')]))
    const writes = [a.set('k', 'v'), a.set('j', 'w')]
    await Promise.all(writes)
    await once(s, 'sync')
    await a.set('after', 1)
    t.equal(await a.get('k'), 'v', 'the write made while the merge was queued is stored')
    t.equal(await a.get('after'), 1, 'a later write is stored')
    const own = (await allHistory(a)).map((u) => (u as [unknown, number])[1])
    t.equal(a.clock[a.id], Math.max(...own), 'this node\'s clock entry is its own latest write, not the peer\'s claim')
    if (proven) t.ok(Math.max(...own) > ahead, 'a write after the claim is stamped above it (that peer would drop it otherwise)')
    // docs/security.md: a liar's header only changes what is sent to the liar (docs/protocol.md).
    else t.ok(Math.max(...own) < ahead, 'an anonymous claim does not lift this node\'s stamps (docs/protocol.md)')
    s.destroy()
  })
}

test('a hostile deeply nested JSON change is rejected without crashing or failing other writes', async (t) => {
  const a = await memoryModel(t)
  const s = a.createStream({ wrapper: 'json' })
  s.resume()
  const deep = '['.repeat(5000) + ']'.repeat(5000)
  const rejected = once(a, 'rejected')
  s.write(`{"id":"PEER","clock":{}}\n[["k",${deep}],${Date.now()},"PEER"]\n`)
  const local = a.set('mine', 1)
  const [err] = await rejected as [ScuttledbError]
  await local
  t.ok(err.code === codes.INVALID_FRAME || err.code === codes.INVALID_MESSAGE, `coded rejection (${err.code})`)
  t.equal(await a.get('mine'), 1, 'a local write in the same moment commits')
  t.equal(await a.get('k'), undefined, 'nothing of it is stored')
  s.destroy()
  let nested: unknown = 1
  for (let i = 0; i < 300; i++) nested = [nested]
  await rejects(t, a.set('deep', nested as never), TypeError, 'a local value nested too deeply is a TypeError')
  await a.set('shallow', [[[1]]])
  t.deepEqual(await a.get('shallow'), [[[1]]], 'ordinary nesting is fine')
})

test('a peer whose update was refused for clock skew does not get its clock merged', async (t) => {
  const a = await memoryModel(t, { maxClockSkew: 1000 })
  const s = a.createStream()
  s.resume()
  const future = Date.now() + 60_000
  s.write(Buffer.concat([frame({ id: 'PEER', clock: { PEER: Date.now() + 500 } }), frame([['k', 'v'], future, 'PEER']), frame('SYNC')]))
  await once(s, 'sync')
  t.equal(a.clock.PEER, undefined, 'no clock entry for an update that was never stored')
  s.destroy()
})

test('header clocks are not merged when writers are restricted, nor by Events that forget history', async (t) => {
  const a = await memoryModel(t, { writers: ['WRITER'] })
  const s = a.createStream()
  s.resume()
  s.write(Buffer.concat([frame({ id: 'PEER', clock: { WRITER: Date.now() + 500, JUNK: 5 } }), frame('SYNC')]))
  await once(s, 'sync')
  t.deepEqual(a.clock, {}, 'an unauthenticated header moves nothing')
  s.destroy()
  const e = new Events({ db: new MemoryLevel(), retention: { maxAge: 60_000 } })
  await e.open()
  t.teardown(async () => { await e.close() })
  const es = e.createStream()
  es.resume()
  es.write(Buffer.concat([frame({ id: 'PEER', clock: { OTHER: Date.now() } }), frame('SYNC')]))
  await once(es, 'sync')
  t.deepEqual(e.clock, {}, 'Events with retention do not merge')
  es.destroy()
})

test('dispose() ends a stream that is re-reading history after falling behind', async (t) => {
  const a = await memoryModel(t)
  const b = await memoryModel(t)
  const { a: sa, b: sb, resume } = await stalledLink(a, b)
  for (let i = 0; i < 6000; i++) void a.set('k' + i, i)
  await a.set('last', 1)
  resume()
  await sleep(5)
  const ended = once(sa, 'end')
  a.dispose()
  sa.resume()
  await ended
  t.pass('the stream ended')
  t.ok(await until(() => a.streams === 0 || sa.readableEnded), 'and its output is finished')
  sb.destroy()
})

test('a peer that never reads does not make the sender buffer large values', async (t) => {
  const a = await memoryModel(t)
  const big = 'x'.repeat(1024 * 1024)
  for (let i = 0; i < 40; i++) await a.set('k' + i, big + i)
  const s = a.createStream()
  s.write(frame({ id: 'PEER', clock: {} }))
  await sleep(200)
  t.ok(s.readableLength < 3 * 1024 * 1024, `buffered ${(s.readableLength / 1048576).toFixed(1)} MB of 40 MB`)
  s.destroy()
})

test('keys and event names with lone surrogates are refused, locally and from peers', async (t) => {
  const a = await memoryModel(t)
  await rejects(t, a.set('\uD800', 'one'), TypeError, 'a lone high surrogate')
  await rejects(t, a.set('\uDC00', 'two'), TypeError, 'a lone low surrogate')
  await a.set('ok \uD83D\uDE00', 'pair')
  t.equal(await a.get('ok \uD83D\uDE00'), 'pair', 'a surrogate pair is fine')
  const s = a.createStream({ wrapper: 'json' })
  s.resume()
  const rejected = once(a, 'rejected')
  s.write(`{"id":"PEER","clock":{}}\n[["\\ud800","v"],${Date.now()},"PEER"]\n`)
  const [err] = await rejected as [ScuttledbError]
  t.equal(err.code, codes.INVALID_MESSAGE, 'a peer\'s lone surrogate key is an invalid message')
})

test('a throwing listener of old updates does not wedge the pipeline', async (t) => {
  const a = await memoryModel(t)
  const b = await memoryModel(t)
  const uncaught = captureUncaught(t)
  await a.set('x', 1)
  const l = link(a, b)
  await l.synced
  b.on('old', () => { throw new Error('listener bug') })
  const s = b.createStream()
  s.resume()
  const [update] = await allHistory(a)
  s.write(Buffer.concat([frame({ id: 'P2', clock: {} }), frame(update)]))
  await b.set('y', 2)
  t.equal(await b.get('y'), 2, 'later writes still commit')
  await sleep(10)
  t.ok(uncaught.length >= 1, 'the listener error surfaced')
  s.destroy()
})

test('a large frame arriving in small chunks decodes', async (t) => {
  const a = await memoryModel(t, { maxClockSkew: 60_000 })
  const s = a.createStream({ maxFrameBytes: 4 * 1024 * 1024 })
  s.resume()
  const value = 'y'.repeat(2 * 1024 * 1024)
  const bytes = Buffer.concat([frame({ id: 'PEER', clock: {} }), frame([['big', value], Date.now(), 'PEER'])])
  for (let i = 0; i < bytes.length; i += 4096) s.write(bytes.subarray(i, i + 4096))
  t.ok(await until(async () => (await a.get('big')) === value), 'stored intact')
  s.destroy()
})

test('pipeline() of a stream that errors reports it and frees both sides', async (t) => {
  const a = await memoryModel(t)
  const s = a.createStream()
  const source = new PassThrough()
  const done = new Promise<Error | null | undefined>((resolve) => { pipeline(source, s, new PassThrough(), resolve) })
  source.write(Buffer.from([0, 0, 0, 1, 0xc1]))
  const err = await done as ScuttledbError
  t.equal(err.code, codes.INVALID_MESSAGE, 'the coded error reaches the pipeline callback')
  t.ok(await until(() => a.streams === 0), 'the stream is gone')
})
