// docs/protocol.md, "Newline JSON": an original stream with `tail: false` ends its side as soon
// as it has sent its history. Over a socket opened with Node's default allowHalfOpen: false, that
// end closes scuttledb's side before scuttledb has read its history from storage, and the original
// gets none of it (found by red-team round 8j, each side in its own process over TCP). The
// documented way: open scuttledb's socket with allowHalfOpen: true. Checked here both ways round.
import test from 'tape'
import { isDeepStrictEqual } from 'node:util'
import { until } from './helpers.js'
import { spawnPeer, join2 } from './original-peers.js'

for (const dbServes of [false, true]) {
  test(`an original with tail: false and scuttledb on a half-open socket exchange their histories (${dbServes ? 'scuttledb serves' : 'the original serves'})`, async (t) => {
    const db = await spawnPeer(t, 'db-model')
    const o = await spawnPeer(t, 'original-model')
    for (let i = 0; i < 20; i++) {
      await db.call('set', { k: `d${i}`, v: i })
      await o.call('set', { k: `o${i}`, v: i })
    }
    if (dbServes) await join2(db, o, { halfOpen: true }, { tail: false })
    else await join2(o, db, { tail: false }, { halfOpen: true })
    const data = async (): Promise<unknown[]> => await Promise.all([db, o].map(async (n) => (await n.call('state')).data))
    const same = await until(async () => { const [a, b] = await data(); return isDeepStrictEqual(a, b) && Object.keys(a as object).length === 40 }, 10_000)
    const [a, b] = await data()
    t.ok(same, 'both sides hold the same keys')
    t.deepEqual([Object.keys(a as object).length, Object.keys(b as object).length], [40, 40], 'scuttledb and the original each hold all 40 keys')
    t.deepEqual([db.errors(), o.errors()], [[], []], 'no stream error on either side')
  })
}
