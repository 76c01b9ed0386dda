import test from 'tape'
import { MemoryLevel } from 'memory-level'
import { Packr } from 'msgpackr'
import { Events, Value } from '../lib/index.js'
import { link, allHistory, until, tempDir, rejects, tiedIds } from './helpers.js'

async function events (t: test.Test, options: Partial<ConstructorParameters<typeof Events>[0]> = {}): Promise<Events> {
  const e = new Events({ db: new MemoryLevel(), ...options })
  await e.open()
  t.teardown(async () => { await e.close() })
  return e
}

test('Events: listeners hear local and remote events, also those emitted before connecting', async (t) => {
  const a = await events(t)
  const b = await events(t)
  const heardA: unknown[] = []
  const heardB: unknown[] = []
  a.on('msg', (d) => heardA.push(d))
  b.on('msg', (d) => heardB.push(d))
  a.emit('msg', 'before')
  await a.record('msg', 'durable')
  const l = link(a, b)
  await l.synced
  a.emit('msg', 'after')
  t.ok(await until(() => heardB.length === 3), 'b heard all three')
  t.deepEqual(heardB, ['before', 'durable', 'after'], 'in order')
  t.deepEqual(heardA, ['before', 'durable', 'after'], 'local events are heard locally')
})

test('Events: event names from peers are data, not lifecycle (error, newListener, __proto__)', async (t) => {
  const a = await events(t)
  const b = await events(t)
  const names = ['error', 'newListener', '__proto__', 'update', 'unstream', 'constructor']
  const heard: string[] = []
  for (const name of names) b.on(name, () => heard.push(name))
  const lifecycle: unknown[] = []
  b.lifecycle.on('update', (change) => lifecycle.push(change))
  for (const name of names) await a.record(name, 1)
  await a.record('unheard-error-like', new Packr({ useRecords: false }).pack({}))
  const l = link(a, b)
  await l.synced
  t.deepEqual(heard, names, 'every name reached its listener, nothing crashed')
  t.equal(lifecycle.length, names.length + 1, 'lifecycle update events are separate')
  t.equal(b.listenerCount('error'), 1, 'listenerCount counts replicated-event listeners')
})

test('Events: once, off and removeAllListeners', async (t) => {
  const a = await events(t)
  const seen: unknown[] = []
  const listener = (d: unknown): void => { seen.push(['on', d]) }
  a.once('x', (d) => seen.push(['once', d]))
  a.on('x', listener)
  await a.record('x', 1)
  a.off('x', listener)
  await a.record('x', 2)
  a.on('y', listener)
  a.removeAllListeners()
  await a.record('y', 3)
  t.deepEqual(seen, [['once', 1], ['on', 1]], 'once fires once, off and removeAllListeners stop listeners')
  t.throws(() => a.on('x', 42 as never), TypeError, 'a listener must be a function')
  await rejects(t, a.record(5 as never), TypeError, 'an event name must be a string')
})

test('Events: off() with the listener given to once() removes it, as on an EventEmitter', async (t) => {
  const a = await events(t)
  const seen: unknown[] = []
  const listener = (d: unknown): void => { seen.push(d) }
  a.once('x', listener)
  a.off('x', listener)
  t.equal(a.listenerCount('x'), 0, 'no listener is left')
  t.throws(() => a.on(5 as never, listener), TypeError, 'on() with a name that is not a string, which would never be heard')
  t.throws(() => a.once(5 as never, listener), TypeError, 'once() likewise')
  a.once('y', listener)
  a.removeListener('y', listener)
  await a.record('x', 1)
  await a.record('y', 2)
  t.deepEqual(seen, [], 'neither fired')
})

test('Events: after a restart, events missed while down are heard', async (t) => {
  const dir = await tempDir(t)
  const a = await events(t)
  let b = new Events({ db: dir })
  await b.open()
  const l1 = link(a, b)
  await l1.synced
  l1.a.destroy()
  await l1.closed
  await b.close()
  await a.record('missed', 'while down')
  b = new Events({ db: dir })
  await b.open()
  t.teardown(async () => { await b.close() })
  const heard: unknown[] = []
  b.on('missed', (d) => heard.push(d))
  const l2 = link(a, b)
  await l2.synced
  t.deepEqual(heard, ['while down'], 'heard after the restart')
  t.equal(l2.a.progress.sent, 1, 'only the missing event was sent')
})

test('Events: retention by age forgets old events in storage and in what peers are sent', async (t) => {
  let wall = 1_000_000_000
  const now = (): number => wall
  const a = await events(t, { now, retention: { maxAge: 1000 } })
  for (let i = 0; i < 5; i++) await a.record('old', i)
  wall += 5000
  for (let i = 0; i < 3; i++) await a.record('new', i)
  const b = await events(t, { now })
  const heard: unknown[] = []
  b.on('old', (d) => heard.push(['old', d]))
  b.on('new', (d) => heard.push(['new', d]))
  const l = link(a, b)
  await l.synced
  t.deepEqual(heard, [['new', 0], ['new', 1], ['new', 2]], 'old events are not sent')
  await a.prune()
  t.equal((await allHistory(a)).length, 3, 'old events are gone from storage')
  await a.record('new', 3)
  t.ok(await until(() => heard.length === 4), 'replication of the rest goes on')
})

test('Events: retention by count keeps about maxCount events', async (t) => {
  const a = await events(t, { retention: { maxCount: 20 } })
  for (let i = 0; i < 100; i++) await a.record('e', i)
  await a.prune()
  const kept = (await allHistory(a)) as Array<[[string, number]]>
  t.equal(kept.length, 20, 'pruned to maxCount')
  t.deepEqual(kept.map((u) => u[0][1]), Array.from({ length: 20 }, (_, i) => 80 + i), 'the newest are kept')
  t.throws(() => new Events({ db: new MemoryLevel(), retention: { maxCount: 0 } }), TypeError, 'invalid retention')
  t.throws(() => new Events({ db: new MemoryLevel(), retention: { maxAge: -1 } }), TypeError, 'invalid retention')
})

test('Events: the retention count survives a reopen', async (t) => {
  const dir = await tempDir(t)
  let a = new Events({ db: dir, retention: { maxCount: 10 } })
  await a.open()
  for (let i = 0; i < 10; i++) await a.record('e', i)
  await a.close()
  a = new Events({ db: dir, retention: { maxCount: 10 } })
  await a.open()
  t.teardown(async () => { await a.close() })
  for (let i = 10; i < 40; i++) await a.record('e', i)
  await a.prune()
  t.equal((await allHistory(a)).length, 10, 'counted what was stored before the reopen')
})

test('Value: last writer wins by (ts, source); change events; undefined refused', async (t) => {
  let wall = 5000
  const now = (): number => wall
  // Ids whose clocks start a millisecond at the same place, so the two writes tie.
  const [A, B] = tiedIds(2)
  const x = new Value({ db: new MemoryLevel(), id: A, now })
  const y = new Value({ db: new MemoryLevel(), id: B, now })
  await x.open(); await y.open()
  t.teardown(async () => { await x.close(); await y.close() })
  t.equal(await x.get(), undefined, 'no value yet')
  await x.set('from A')
  await y.set('from B') // same timestamp: B > A wins
  const changes: unknown[] = []
  x.on('change', (v) => changes.push(v))
  const l = link(x, y)
  await l.synced
  t.equal(await x.get(), 'from B', 'tie broken by source')
  t.equal(await y.get(), 'from B', 'both agree')
  t.deepEqual(changes, ['from B'], 'change event on the remote win')
  wall += 10
  await x.set({ later: true })
  t.ok(await until(async () => JSON.stringify(await y.get()) === '{"later":true}'), 'a later write wins everywhere')
  t.deepEqual(await y.toJSON(), { later: true }, 'toJSON is the value')
  t.deepEqual((await allHistory(y)).map((u) => (u as unknown[])[2]).sort(), [A, B], 'history holds the winner, and B\'s superseded latest update (pinned, so clocks converge)')
  await rejects(t, x.set(undefined as never), TypeError, 'undefined is refused')
})
