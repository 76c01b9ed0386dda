// Red-team round 11i. The original takes any update whose ts is a number and whose
// source is a string other than __proto__: ts 0 or negative, source '' or longer than
// 512 units. Once one such update reached an original (from any peer), its header clock
// carried that entry and its history the update, and every scuttledb node refused both
// with SCUTTLEDB_INVALID_MESSAGE: the original and scuttledb never replicated again,
// whatever else the original held. On the JSON wire such a clock entry is now left out
// and such an update skipped (reported as `rejected`), and the stream goes on
// (docs/protocol.md).
import { createRequire } from 'node:module'
import test from 'tape'
import { diskModel, until } from './helpers.js'
import type { OriginalConstructor, OriginalModel } from './original.js'

const require = createRequire(import.meta.url)
const OModel = require('scuttlebutt/model.js') as OriginalConstructor<OriginalModel>

for (const bad of [[['k', 1], 0, 'zero-ts'], [['k', 1], 5, ''], [['k', 1], 5, 'x'.repeat(600)]]) {
  test(`an original that once took ${JSON.stringify(bad).slice(0, 30)} still replicates its other data with scuttledb`, async (t) => {
    const o = new OModel()
    o.set('good', 1)
    // A hostile or buggy peer hands the original the update; the original stores it.
    const raw = o.createStream()
    raw.write(JSON.stringify({ id: 'someone', clock: {} }) + '\n' + JSON.stringify(bad) + '\n')
    t.ok(Object.hasOwn(o.sources, bad[2] as string), 'the original took it into its clock')
    const db = await diskModel(t)
    const s = db.createStream({ wrapper: 'json' })
    const errors: string[] = []
    s.on('error', (err) => errors.push(String((err as { code?: string }).code)))
    const rejected: string[] = []
    db.on('rejected', (err) => rejected.push(String((err as { code?: string }).code)))
    const os = o.createStream()
    s.pipe(os).pipe(s)
    t.teardown(() => { s.destroy() })
    t.ok(await until(async () => await db.get('good') === 1, 3000), 'the original\'s other key arrives')
    t.deepEqual(errors, [], 'the stream stays open')
    t.deepEqual(rejected, ['SCUTTLEDB_INVALID_MESSAGE'], 'the update is reported as rejected')
    t.equal(db.clock[bad[2] as string], undefined, 'and not taken')
    o.set('later', 2)
    t.ok(await until(async () => await db.get('later') === 2, 3000), 'live updates from the original go on arriving')
  })
}
