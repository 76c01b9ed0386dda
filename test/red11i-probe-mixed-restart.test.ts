// Red-team round 11i probe (passes): mixed networks of real original peers and
// scuttledb nodes in child processes over TCP, the original as the relay between
// two scuttledb nodes and a scuttledb node as the relay between two originals, for
// Model, Events and Value (r-value), with writes on every node, a dropped
// connection and a scuttledb node killed (SIGKILL) and reopened from disk.
// Everything converges to the same data on every node.
import { isDeepStrictEqual } from 'node:util'
import test, { type Test } from 'tape'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { listenOn, spawnPeer, type Kind, type Peer } from './original-peers.js'
import { until } from './helpers.js'

type Family = 'model' | 'events' | 'value'
const kinds: Record<Family, { db: Kind, original: Kind }> = {
  model: { db: 'db-model', original: 'original-model' },
  events: { db: 'db-events', original: 'original-events' },
  value: { db: 'db-value', original: 'rvalue' }
}

/** What must be the same on every node: the data (Model), the events (Events) or the value (Value). */
async function view (peer: Peer, family: Family): Promise<unknown> {
  const s = await peer.call('state')
  if (family === 'model') return s.data
  if (family === 'value') return s.value
  return (s.history as Array<[unknown, number, string]>).map((u) => JSON.stringify(u)).sort()
}

async function converged (t: Test, peers: Peer[], family: Family, msg: string): Promise<void> {
  const same = async (): Promise<boolean> => {
    const views = await Promise.all(peers.map(async (p) => await view(p, family)))
    return views.every((v) => isDeepStrictEqual(v, views[0]))
  }
  t.ok(await until(same, 15000), msg)
  const views = await Promise.all(peers.map(async (p) => await view(p, family)))
  t.deepEqual(views, views.map(() => views[0]), `${msg}: every node holds the same`)
}

let n = 0
async function write (peer: Peer, tag: string): Promise<void> {
  await peer.call('set', { k: `${tag}-${n}`, v: { tag, n: n++, text: 'ü\u2028' } })
}

for (const family of ['model', 'events', 'value'] as const) {
  for (const relay of ['original', 'scuttledb'] as const) {
    test(`${family}: ${relay === 'original' ? 'an' : 'a'} ${relay} relay between two of the other kind, with a drop and a scuttledb node killed and reopened, converges`, async (t) => {
      const k = kinds[family]
      const ends = relay === 'original' ? k.db : k.original
      const dir = mkdtempSync(join(tmpdir(), 'red11i-'))
      t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
      // The scuttledb node that is killed and reopened: an end, or the relay.
      const mid = await spawnPeer(t, relay === 'original' ? k.original : k.db, relay === 'scuttledb' ? { dir } : {})
      const a = await spawnPeer(t, ends, relay === 'original' ? { dir } : {})
      const b = await spawnPeer(t, ends)
      for (const p of [mid, a, b]) await write(p, 'before')
      const port = await listenOn(mid)
      await a.call('dial', { port })
      await b.call('dial', { port })
      for (const p of [mid, a, b]) await write(p, 'live')
      await converged(t, [mid, a, b], family, 'the chain converges')
      await b.call('drop')
      await write(b, 'offline')
      await write(mid, 'while-b-away')
      await b.call('dial', { port })
      await converged(t, [mid, a, b], family, 'after a drop and a reconnect')
      const victim = relay === 'scuttledb' ? mid : a
      await write(victim, 'last-before-kill')
      await converged(t, [mid, a, b], family, 'the last write before the kill has spread')
      await victim.kill()
      const again = await spawnPeer(t, victim.kind, { dir, id: victim.id })
      t.equal(again.id, victim.id, 'reopened from disk with its id')
      await write(again, 'after-restart')
      let nodes: Peer[]
      if (victim === mid) {
        const fresh = await listenOn(again)
        for (const p of [a, b]) {
          await p.call('drop')
          await write(p, 'while-relay-down')
          await p.call('dial', { port: fresh })
        }
        nodes = [again, a, b]
      } else {
        await again.call('dial', { port })
        nodes = [mid, again, b]
      }
      await converged(t, nodes, family, 'after the kill and reopen, everything converges')
      const protocol = nodes.flatMap((p) => p.errors()).filter((e) => !/ECONNRESET|EPIPE|PREMATURE|socketError/.test(e))
      t.deepEqual(protocol, [], 'no protocol error anywhere')
    })
  }
}
