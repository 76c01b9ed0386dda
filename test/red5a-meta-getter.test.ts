// Red-team round 5 (a): the `meta` stream option is checked against the value domain at
// createStream(), and then read again to encode the header. A getter (or a Proxy) gives the
// encoder another value than the check saw, as the README's localUpdate() notes for changes
// (where it is guarded): the peer's `header` event got NaN, undefined or a Date in a
// "checked" meta (on JSON: null, the key dropped, a string), and a BigInt made createStream()
// throw msgpackr's or JSON's own uncoded error.
import { once } from 'node:events'
import { pipeline } from 'node:stream'
import test from 'tape'
import { MemoryLevel } from 'memory-level'
import { Model, type Header } from '../lib/index.js'

function flipping (second: unknown): { x: unknown } {
  let reads = 0
  return { get x () { return reads++ === 0 ? 1 : second } }
}

for (const wrapper of ['msgpack', 'json'] as const) {
  test(`a meta getter cannot slip a value outside the domain into the header (${wrapper})`, async (t) => {
    const a = new Model({ db: new MemoryLevel() })
    const b = new Model({ db: new MemoryLevel() })
    await a.open()
    await b.open()
    t.teardown(async () => { await Promise.all([a.close(), b.close()]) })
    for (const [label, second] of [['NaN', NaN], ['undefined', undefined], ['a Date', new Date(0)], ['a BigInt', 10n ** 20n]] as const) {
      let sa
      try {
        sa = a.createStream({ wrapper, meta: flipping(second) as never })
      } catch (err) {
        t.equal((err as { code?: unknown }).code, 'SCUTTLEDB_INVALID_VALUE', `${label}: createStream() refuses it with SCUTTLEDB_INVALID_VALUE (${(err as Error).message})`)
        continue
      }
      const sb = b.createStream({ wrapper })
      pipeline(sa, sb, sa, () => {})
      const [header] = await once(sb, 'header') as [Header]
      t.deepEqual(header.meta, { x: 1 }, `${label}: the peer's header carries the meta that was checked`)
      sa.destroy()
      sb.destroy()
    }
  })
}
