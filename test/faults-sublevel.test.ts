/**
 * The fault matrix of test/faults.test.ts (test/fault-matrix.ts) for a Model on a
 * sublevel of a faulty database. On a plain sublevel (utf8 keys, binary values)
 * of a database of utf8 keys and binary values, commits go through the ROOT's
 * chained batch under the sublevel's prefix and reads through the root with
 * prefixed keys (lib/prefixed-view.ts `directTarget`); a sublevel with a prewrite
 * hook, or of a root with other encodings, keeps the sublevel's own path. Each
 * case checks which hook the writes went through, so that the faults reach the
 * path under test.
 */
import test, { type Test } from 'tape'
import { ClassicLevel } from 'classic-level'
import type { AbstractLevel } from 'abstract-level'
import { Model } from '../lib/index.js'
import { FaultyClassicLevel, FaultyMemoryLevel, type FaultKind } from './fixtures/faulty-level.js'
import { faultMatrix, ROUNDS, type Subject } from './fault-matrix.js'
import { tempDir } from './helpers.js'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyLevel = AbstractLevel<any, any, any>

/** Where the instance lives in its root: the sublevel made of a root, and its key prefix there. */
interface Placement {
  /** The instance's sublevel of `root` (a fresh one each time: the reopened store is another root). */
  place: (root: AnyLevel) => AnyLevel
  prefix: string
  /** The hooks every write must go through: the root's chained batch (`write`) on the direct path, an array `batch` else. */
  kinds: FaultKind[]
}

const plain: Placement = { place: (root) => root.sublevel('doc', { valueEncoding: 'buffer' }), prefix: '!doc!', kinds: ['write'] }
const nested: Placement = { place: (root) => root.sublevel('outer').sublevel('inner', { valueEncoding: 'buffer' }), prefix: '!outer!!inner!', kinds: ['write'] }
/** A prewrite hook keeps the sublevel's own path (its chained batch writes an array batch on the root). */
const hooked: Placement = {
  place: (root) => {
    const sublevel = root.sublevel('doc', { valueEncoding: 'buffer' })
    sublevel.hooks.prewrite.add(() => {})
    return sublevel
  },
  prefix: '!doc!',
  kinds: ['batch']
}

/**
 * A Model on `placement` in the faulty `db`; reopening closes it, heals the store
 * and places a fresh Model in the root `healthy()` gives (the same store, or the
 * crash image read by a plain one).
 */
async function placed (db: FaultyClassicLevel | FaultyMemoryLevel, placement: Placement, healthy: () => Promise<AnyLevel>, dispose: () => Promise<void>): Promise<Subject> {
  const model = new Model({ db: placement.place(db) })
  await model.open()
  return {
    model,
    plan: db.plan,
    prefix: placement.prefix,
    reopen: async () => {
      await model.close()
      db.plan.disarm()
      const again = new Model({ db: placement.place(await healthy()) })
      await again.open()
      return again
    },
    dispose
  }
}

async function onClassic (t: Test, placement: Placement): Promise<Subject> {
  const dir = await tempDir(t, 'scuttledb-faults-sublevel-')
  const db = new FaultyClassicLevel(dir)
  let plainRoot: ClassicLevel<string, Buffer> | undefined
  return await placed(db, placement, async () => {
    await db.close()
    // The crash image: the directory as the faulty store left it, through a plain classic-level.
    plainRoot = new ClassicLevel<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' })
    return plainRoot
  }, async () => {
    await db.close()
    await plainRoot?.close()
  })
}

/** memory-level with binary values (the direct path) or its default utf8 values (the sublevel's own path). */
async function onMemory (placement: Placement, valueEncoding: 'buffer' | 'utf8'): Promise<Subject> {
  const db = new FaultyMemoryLevel({ valueEncoding } as never)
  // The same store's data, read by a fresh Model on a fresh sublevel.
  return await placed(db, placement, async () => db, async () => { await db.close() })
}

const subjects: Array<[string, (t: Test) => Promise<Subject>, FaultKind[]]> = [
  ['classic-level sublevel', async (t) => await onClassic(t, plain), plain.kinds],
  ['classic-level nested sublevel', async (t) => await onClassic(t, nested), nested.kinds],
  ['classic-level sublevel with a prewrite hook', async (t) => await onClassic(t, hooked), hooked.kinds],
  ['memory-level (binary values) sublevel', async () => await onMemory(plain, 'buffer'), plain.kinds],
  ['memory-level (binary values) nested sublevel', async () => await onMemory(nested, 'buffer'), nested.kinds],
  // A root of utf8 values: the sublevel is written with its own chained batch, an array batch on the root.
  ['memory-level (utf8 values) sublevel', async () => await onMemory(plain, 'utf8'), ['batch']]
]

for (const [name, make, kinds] of subjects) {
  for (const mode of ['transient', 'crash'] as const) {
    const what = mode === 'transient' ? 'fails once' : 'fails and every later call fails (a crash)'
    test(`${name}: when the Nth storage call ${what}, no acked write is lost, the clock matches the history, nothing crashes and the peer converges (${ROUNDS} rounds)`, async (t) => {
      const { writes, failed } = await faultMatrix(t, name, make, mode)
      t.deepEqual([...writes].sort(), kinds, `${name}: the writes went through ${kinds.join(', ')}`)
      // The reads as well: through the root (the direct path) or the sublevel, they reach the root's hooks.
      for (const kind of [...kinds, 'getMany', 'iterator']) t.ok(failed.has(kind), `${name}: a fault was injected in a ${kind} call`)
    })
  }
}
