import test from 'tape'
import { MemoryLevel } from 'memory-level'
import { Events } from '../lib/index.js'
import { link } from './helpers.js'

// docs/storage.md: "every clock entry is backed by an update a peer can be sent
// (clocks converge through updates)". Events retention pruned a source's latest
// event too, so a relay kept a clock entry no peer could ever get: a node synced
// from it ended with another clock, and the relay's stream said the peer was
// behind after `sync` (and on every later sync), though it had all there was.

async function events (t: test.Test, options: Partial<ConstructorParameters<typeof Events>[0]> = {}): Promise<Events> {
  const e = new Events({ db: new MemoryLevel(), ...options })
  await e.open()
  t.teardown(async () => { await e.close() })
  return e
}

async function syncOnce (x: Events, y: Events): Promise<{ behindX: number, behindY: number }> {
  const l = link(x, y)
  await l.synced
  const result = { behindX: l.a.progress.behind.sources, behindY: l.b.progress.behind.sources }
  l.a.destroy()
  l.b.destroy()
  await l.closed
  return result
}

for (const kind of ['maxCount', 'maxAge'] as const) {
  test(`red7g: Events retention (${kind}) keeps each source's latest event, so a node synced through a relay gets every clock entry`, async (t) => {
    let wall = 1_000_000_000
    const now = (): number => wall
    const retention = kind === 'maxCount' ? { maxCount: 5 } : { maxAge: 1000 }
    const x = await events(t, { id: 'X', now })
    const y = await events(t, { id: 'Y', now })
    const relay = await events(t, { id: 'R', now, retention })
    for (let i = 0; i < 3; i++) await x.record('x', i)
    await syncOnce(x, relay)
    wall += 5000
    for (let i = 0; i < 20; i++) await y.record('y', i)
    await syncOnce(y, relay)
    await relay.prune()
    t.deepEqual(Object.keys(relay.clock).sort(), ['X', 'Y'], 'the relay has seen X and Y')

    const fresh = await events(t, { id: 'N', now, retention })
    const heard: unknown[] = []
    fresh.on('x', (i) => heard.push(['x', i]))
    const first = await syncOnce(relay, fresh)
    t.deepEqual(fresh.clock, relay.clock, 'the new node ends with the relay\'s clock')
    t.equal(first.behindX, 0, 'the relay\'s stream: the peer has everything at sync (progress.behind.sources)')
    const second = await syncOnce(relay, fresh)
    t.equal(second.behindX, 0, 'and still on the next sync')
    // maxCount keeps X's latest event (history, heard once); maxAge forgot it (sent for the clock, not heard).
    t.deepEqual(heard, kind === 'maxCount' ? [['x', 2]] : [], 'no forgotten event is heard, none twice')
    // A third node synced from the new one converges too.
    const third = await events(t, { id: 'T', now, retention })
    await syncOnce(fresh, third)
    t.deepEqual(third.clock, relay.clock, 'a third node synced from the new one has the same clock')
  })
}
