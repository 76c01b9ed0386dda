// Red-team round 5 (a): calls racing close(). The README promises that "writes queued
// before [close()] still commit" and that "every call made after it is refused with
// SCUTTLEDB_NOT_OPEN"; Counter#increment, which reads before it writes, is a task so
// that close() waits for it. Model#clear() also reads (the key list) before it writes,
// but is no task: close() closed the database under its read, the clear was lost and
// the caller got classic-level's LEVEL_DATABASE_NOT_OPEN. And reads of an iterator
// taken while open, made after close(), got LEVEL_ITERATOR_NOT_OPEN.
import test from 'tape'
import { Model } from '../lib/index.js'
import { tempDir } from './helpers.js'

async function codeOf (promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise
    return undefined
  } catch (err) {
    return String((err as { code?: unknown }).code)
  }
}

test('clear() called before close() still commits (classic-level, reopened)', async (t) => {
  const dir = await tempDir(t)
  const a = new Model({ db: dir })
  await a.open()
  await a.set('x', 1)
  await a.set('y', 2)
  const cleared = a.clear()
  const closed = a.close()
  t.equal(await codeOf(cleared), undefined, 'clear() called while open resolves')
  await closed
  const b = new Model({ db: dir })
  await b.open()
  t.deepEqual(await b.toJSON(), {}, 'after reopening, every key is deleted')
  await b.close()
})

test('an entries() iterator read after close() is refused with SCUTTLEDB_NOT_OPEN', async (t) => {
  const dir = await tempDir(t)
  const a = new Model({ db: dir })
  await a.open()
  const ops = []
  for (let i = 0; i < 2000; i++) ops.push({ type: 'put' as const, key: `k${String(i).padStart(5, '0')}`, value: i })
  await a.batch(ops)
  const it = a.entries()
  await it.next()
  await a.close()
  const code = await codeOf((async () => { for (let r = await it.next(); r.done !== true; r = await it.next()); })())
  t.equal(code, 'SCUTTLEDB_NOT_OPEN', 'a next() after close() is refused with the documented code')
})

test('a get() called just before close() resolves or is refused with SCUTTLEDB_NOT_OPEN', async (t) => {
  const dir = await tempDir(t)
  const a = new Model({ db: dir })
  await a.open()
  await a.set('x', 1)
  const got = a.get('x')
  const closed = a.close()
  const code = await codeOf(got)
  t.ok(code === undefined || code === 'SCUTTLEDB_NOT_OPEN', `get() settles with the value or SCUTTLEDB_NOT_OPEN (got ${String(code)})`)
  await closed
})
