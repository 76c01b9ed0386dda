// Red-team round 11m. Since msgpack frames holding what msgpackr decodes as another value are
// refused (lib/wire-check.ts), a node that stored such an update before (its bytes kept as
// received: a record, a str that is not UTF-8, an integer map key) sent those bytes on
// verbatim, and every upgraded peer closed the stream at them, on every reconnect: nothing
// after them in its history ever reached that peer. They must go out as the value this node
// holds (re-encoded), so the peer gets what this node has and the rest follows.
import { once } from 'node:events'
import test from 'tape'
import type { Model, Update } from '../lib/index.js'
import { unpack } from '../lib/msgpack.js'
import { diskModel, link } from './helpers.js'

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')

/** Store `bytes` as received, as the frame decoder did before the check. */
async function storeRaw (model: Model, bytes: Buffer): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    model._receive(unpack(bytes) as Update, bytes, undefined, (err) => { if (err === null) resolve(); else reject(err) })
  })
}

const stored: Array<[string, string, unknown]> = [
  ['a record', '93 92 a16b d47240 92a161a162 0102 05 a470656572', { a: 1, b: 2 }],
  ['a str that is not UTF-8', '93 92 a16b a361ff62 05 a470656572', 'a\ufffdb'],
  ['an integer map key', '93 92 a16b 81 01 a178 05 a470656572', { 1: 'x' }]
]

for (const [what, bytes, held] of stored) {
  test(`an update stored before as ${what} still replicates, as the value held, and so does what follows it`, async (t) => {
    const a = await diskModel(t)
    await storeRaw(a, hex(bytes))
    t.deepEqual(await a.get('k'), held, 'the old node holds the decoded value')
    await a.set('after', 1)
    for (const wrapper of ['msgpack', 'json'] as const) {
      const b = await diskModel(t)
      const l = link(a, b, { wrapper }, { wrapper })
      const errors: string[] = []
      for (const s of [l.a, l.b]) s.on('error', (err) => { errors.push(String((err as { code?: string }).code)) })
      const result = await Promise.race([l.synced.then(() => 'synced'), once(l.b, 'close').then(() => 'closed')])
      t.equal(result, 'synced', `${wrapper}: the streams sync (${errors.join(', ')})`)
      t.deepEqual(await b.get('k'), held, `${wrapper}: the peer holds the same value`)
      t.equal(await b.get('after'), 1, `${wrapper}: and what followed it`)
      l.a.destroy()
      l.b.destroy()
    }
  })
}
