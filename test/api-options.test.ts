import test from 'tape'
import { MemoryLevel } from 'memory-level'
import { Events, Model, createSecurity, generateKeys, securityOptions } from '../lib/index.js'
import { memoryModel } from './helpers.js'

/** A caller's mistake: a plain TypeError without a code (README, Error codes). */
function callerMistake (err: unknown): boolean {
  return err instanceof TypeError && (err as { code?: unknown }).code === undefined
}

test('constructor options of the wrong type are a TypeError at the call (sync, now, writers, maxClockSkew, security)', (t) => {
  const bad: Array<[string, Record<string, unknown>]> = [
    ["sync: 'yes'", { sync: 'yes' }],
    ["now: 'x'", { now: 'x' }],
    ['writers: 5', { writers: 5 }],
    ["writers: 'abc'", { writers: 'abc' }],
    ['writers: [5]', { writers: [5] }],
    ["maxClockSkew: '5'", { maxClockSkew: '5' }],
    ['security: null', { security: null }],
    ['security.createId: 1', { security: { sign: () => 's', verify: () => true, createId: 1 } }]
  ]
  for (const [label, options] of bad) {
    t.throws(() => new Model({ db: new MemoryLevel(), ...options } as never), callerMistake, label)
  }
  t.doesNotThrow(() => new Model({ db: new MemoryLevel(), sync: true, now: () => 1, writers: new Set(['a']) }), 'good options are taken')
  t.end()
})

test("Events: retention that is not { maxAge?, maxCount? } is a TypeError (retention: 'x')", (t) => {
  t.throws(() => new Events({ db: new MemoryLevel(), retention: 'x' as never }), callerMistake, "retention: 'x'")
  t.throws(() => new Events({ db: new MemoryLevel(), retention: { maxAge: '5' as never } }), callerMistake, "maxAge: '5'")
  t.end()
})

test("createStream() options of the wrong type are a TypeError ('str', tail: 'no')", async (t) => {
  const m = await memoryModel(t)
  t.throws(() => m.createStream('str' as never), callerMistake, "createStream('str')")
  t.throws(() => m.createStream({ tail: 'no' as never }), callerMistake, "tail: 'no'")
  t.throws(() => m.createStream({ readable: 0 as never }), callerMistake, 'readable: 0')
  t.throws(() => m.createStream({ name: 5 as never }), callerMistake, 'name: 5')
  t.throws(() => m.createReadStream('str' as never), callerMistake, "createReadStream('str')")
  t.throws(() => m.createWriteStream({ sendClock: 'yes' as never }), callerMistake, "createWriteStream({ sendClock: 'yes' })")
  t.equal(m.streams, 0, 'no stream was made')
})

test('history(clock) with a clock that is not { source: ts | null } is a TypeError at the call', async (t) => {
  const m = await memoryModel(t)
  await m.set('k', 1)
  t.throws(() => m.history(5 as never), callerMistake, 'history(5)')
  t.throws(() => m.history({ x: 'abc' } as never), callerMistake, "history({ x: 'abc' })")
  const all = []
  for await (const update of m.history({ other: null, gone: undefined as never })) all.push(update)
  t.equal(all.length, 1, 'null and undefined entries mean everything from that source')
})

test('securityOptions() and createSecurity() without a key pair are a TypeError naming it', (t) => {
  t.throws(() => securityOptions({} as never), callerMistake, 'securityOptions({})')
  t.throws(() => securityOptions(undefined as never), callerMistake, 'securityOptions()')
  t.throws(() => securityOptions('a.key' as never), callerMistake, "securityOptions('a.key')")
  t.throws(() => createSecurity({ keys: 5 as never }), callerMistake, 'createSecurity({ keys: 5 })')
  t.throws(() => createSecurity(5 as never), callerMistake, 'createSecurity(5)')
  const keys = generateKeys()
  t.equal(securityOptions(keys, { verifyOn: 'main' }).id, keys.id, 'a real key pair is taken')
  t.end()
})
