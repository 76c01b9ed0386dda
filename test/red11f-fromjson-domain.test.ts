import test from 'tape'
import { once } from 'node:events'
import { MemoryLevel } from 'memory-level'
import { Scuttlebutt, type ScuttledbError, type Transaction, type Update } from '../lib/index.js'
import { allHistory, sleep } from './helpers.js'

// _fromJson rewrites a change from a JSON stream after the update was checked against the
// value domain. What it returned was stored unchecked: a hook that turns the original's date
// string into a Date stored an update every msgpack peer refuses (an extension type), closing
// the stream at it on every reconnect. It must be refused like a peer's own bad change.
class Dates extends Scuttlebutt {
  protected override _fromJson (change: unknown): unknown {
    return typeof change === 'string' ? new Date(change) : change
  }

  protected override _applyUpdate (_update: Update, _tx: Transaction): boolean {
    return true
  }
}

test('a change that _fromJson made outside the value domain is refused, nothing stored', async (t) => {
  const a = new Dates({ db: new MemoryLevel() })
  await a.open()
  t.teardown(async () => { await a.close() })
  const s = a.createStream({ wrapper: 'json' })
  s.on('error', () => {})
  const rejected = once(a._lifecycleEmitter, 'rejected') as Promise<[ScuttledbError]>
  s.write(JSON.stringify({ id: 'PEER', clock: {} }) + '\n' + JSON.stringify(['2026-01-01T00:00:00Z', Date.now(), 'PEER']) + '\n')
  const outcome = await Promise.race([rejected.then(([err]) => err.code), sleep(5000).then(() => 'no rejection within 5 s')])
  t.equal(outcome, 'SCUTTLEDB_INVALID_MESSAGE', 'the update is rejected with SCUTTLEDB_INVALID_MESSAGE')
  t.same(await allHistory(a as unknown as Scuttlebutt), [], 'nothing is stored')
})
