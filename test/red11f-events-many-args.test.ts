import test from 'tape'
import { once } from 'node:events'
import { MemoryLevel } from 'memory-level'
import { Events, type ScuttledbError } from '../lib/index.js'
import { allHistory, captureUncaught, frame, sleep } from './helpers.js'

// An Events update's arguments are spread into each listener's call: past the engine's limit
// (about 120k arguments) the call throws RangeError. It was thrown from the commit's
// announcement and rethrown as an uncaught exception, so one update from a hostile peer
// (a 500 KB frame of 200k nils) ended the process of any node listening to that event.
const ARGS = 200_000
// MAX_EVENT_ARGS of lib/events.ts, as README.md documents it.
const MAX_EVENT_ARGS = 4096

test('a peer\'s event with more arguments than a listener can be called with is refused, nothing stored, no crash', async (t) => {
  const uncaught = captureUncaught(t)
  const b = new Events({ db: new MemoryLevel() })
  await b.open()
  t.teardown(async () => { await b.close() })
  let heard = 0
  b.on('x', () => { heard++ })
  const s = b.createStream()
  s.on('error', () => {})
  const rejected = once(b.lifecycle, 'rejected') as Promise<[ScuttledbError]>
  const huge = frame([['x', ...new Array(ARGS).fill(null)], Date.now(), 'PEER'])
  s.write(Buffer.concat([frame({ id: 'PEER', clock: {} }), huge]))
  const outcome = await Promise.race([rejected.then(([err]) => err.code), sleep(5000).then(() => 'no rejection within 5 s')])
  await sleep(50)
  t.same(uncaught.map((err) => (err as Error).message), [], 'no uncaught exception')
  t.equal(outcome, 'SCUTTLEDB_INVALID_MESSAGE', 'the update is rejected with SCUTTLEDB_INVALID_MESSAGE')
  t.equal(heard, 0, 'no listener was called')
  t.same(await allHistory(b), [], 'nothing is stored')
})

test('a local event with more arguments than a listener can be called with is refused at the call', async (t) => {
  const a = new Events({ db: new MemoryLevel() })
  await a.open()
  t.teardown(async () => { await a.close() })
  let code: unknown
  try {
    await a.localUpdate(['x', ...new Array(ARGS).fill(null)])
  } catch (err) {
    code = (err as { code?: unknown }).code
  }
  t.equal(code, 'SCUTTLEDB_INVALID_VALUE', 'localUpdate() rejects with SCUTTLEDB_INVALID_VALUE')
  t.same(await allHistory(a), [], 'nothing is stored')
})

test('an event with MAX_EVENT_ARGS arguments is stored and heard', async (t) => {
  const a = new Events({ db: new MemoryLevel() })
  await a.open()
  t.teardown(async () => { await a.close() })
  let heard = -1
  // once() passes the arguments on to the listener, and the listener passes them on again.
  const pass = (...args: unknown[]): void => { ((...again: unknown[]) => { heard = again.length })(...args) }
  a.once('x', pass)
  await a.localUpdate(['x', ...new Array(MAX_EVENT_ARGS).fill(null)])
  t.equal(heard, MAX_EVENT_ARGS, 'the listener got every argument')
  let code: unknown
  try {
    a.emit('x', ...new Array(MAX_EVENT_ARGS + 1).fill(null))
  } catch (err) {
    code = (err as { code?: unknown }).code
  }
  t.equal(code, 'SCUTTLEDB_INVALID_VALUE', 'emit() with one more argument throws SCUTTLEDB_INVALID_VALUE')
})
