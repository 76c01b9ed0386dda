import test, { type Test } from 'tape'
import { cp } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { Level } from 'level'
import { Model, Value, codes, type ScuttledbError } from '../lib/index.js'
import { allHistory, link, memoryModel, tempDir } from './helpers.js'

// Databases written by scuttledb 0.1.0 (commit 684ea01), storage format 1.
const fixtures = fileURLToPath(new URL('../../test/fixtures/format-1/', import.meta.url))

async function copyFixture (t: Test, name: string): Promise<string> {
  const dir = join(await tempDir(t), name)
  await cp(join(fixtures, name), dir, { recursive: true })
  return dir
}

/** The raw records of a database, to look at its layout. */
async function raw (dir: string): Promise<Map<string, Buffer>> {
  const db = new Level<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' })
  const out = new Map<string, Buffer>()
  for await (const [key, value] of db.iterator()) out.set(key, value)
  await db.close()
  return out
}

const EXPECTED = {
  plain: 'world',
  num: 2 ** 60,
  obj: { a: [1, { b: null }], 'ü': 'ß😀', e: {} },
  bin: Buffer.from([1, 2, 3, 255]),
  fromB: 42,
  contested: 'a wins',
  __proto__: 'p'
}

test('a Model written by 0.1.0 opens upgraded in place: values intact, unreplicable updates quarantined with a coded event', async (t) => {
  const dir = await copyFixture(t, 'model')
  const model = new Model({ db: dir })
  const rejected: ScuttledbError[] = []
  model.on('rejected', (err) => rejected.push(err))
  await model.open()
  t.teardown(async () => { await model.close() })
  t.equal(model.id, 'FIXTURE-A', 'the id is kept')
  for (const [key, value] of Object.entries(EXPECTED)) t.deepEqual(await model.get(key), value, `${key} reads back as written`)
  t.equal(await model.get('gone'), undefined, 'a deleted key stays deleted')
  t.equal(await model.get('f'), undefined, 'the function 0.1.0 stored as undefined is gone')
  t.deepEqual(rejected.map((err) => err.code), [codes.INVALID_VALUE], 'the unreplicable update was reported once, coded')
  t.ok(String(rejected[0]?.message).includes('FIXTURE-A'), 'the report names the update')
  // 0.1.0 stored a second, re-encoded copy of a Uint16Array in the key record, different from the log's:
  // there is now one copy, and what the node reads is what it replicates.
  const history = await allHistory(model) as Array<[[string, unknown], number, string]>
  const u16 = history.find((u) => u[0][0] === 'u16')
  t.deepEqual(await model.get('u16'), u16?.[0][1], 'the value read is the value in the history')

  const peer = await memoryModel(t)
  const l = link(model, peer)
  await l.synced
  for (const [key, value] of Object.entries(EXPECTED)) t.deepEqual(await peer.get(key), value, `a peer receives ${key}`)
  await model.set('later', 1)
  t.equal(await model.get('later'), 1, 'new writes work')
  l.a.destroy()
  await l.closed
  await model.close()

  const records = await raw(dir)
  t.equal(records.get('!meta!format')?.toString('hex'), '02', 'the format is now 2')
  const keyRecords = [...records].filter(([key]) => key.startsWith('!data-keys!'))
  const shapes = Object.fromEntries(keyRecords.map(([key, bytes]) => [key.slice('!data-keys!'.length), bytes[0]]))
  t.ok(keyRecords.length > 0 && Object.entries(shapes).every(([key, first]) => first === (key === 'gone' ? 0x93 : 0x92)),
    'every key record is a [ts, source] pointer, a delete\'s is [ts, source, 0]')
  t.ok([...records.keys()].some((key) => key.startsWith('!data-expiry!') && key.endsWith('\x00gone')), 'the delete is in the expiry index')
  t.ok(!records.has('!data-keys!f'), 'the key record of the quarantined update is gone')
  t.ok([...records.keys()].some((key) => key.startsWith('!quarantine!FIXTURE-A')), 'the quarantined update is kept aside, not destroyed')
})

test('a Value written by 0.1.0 opens upgraded with its value', async (t) => {
  const dir = await copyFixture(t, 'value')
  const value = new Value({ db: dir })
  await value.open()
  t.teardown(async () => { await value.close() })
  t.deepEqual(await value.get(), { deep: [true, 'ok'] }, 'the value is intact')
  await value.close()
  const records = await raw(dir)
  t.equal(records.get('!data-value!value')?.[0], 0x92, 'the record is a pointer')
})

/** abstract-level's private write hooks, which every public write (also of sublevels) goes through. */
type WriteHooks = Record<'_batch' | '_put', (...args: unknown[]) => Promise<void>>

/** A classic-level database whose Nth write (batch or put) fails: a crash in the middle of an upgrade. */
class FailingLevel extends Level<string, Buffer> {
  writes = 0

  constructor (location: string, failAt: number) {
    super(location, { keyEncoding: 'utf8', valueEncoding: 'buffer' })
    const hooks = this as unknown as WriteHooks
    for (const name of ['_batch', '_put'] as const) {
      const original = hooks[name].bind(this)
      hooks[name] = async (...args) => {
        if (++this.writes === failAt) throw new Error(`injected failure at write ${failAt}`)
        await original(...args)
      }
    }
  }
}

test('an upgrade interrupted at any write finishes at the next open, with every value intact', async (t) => {
  for (let failAt = 1; ; failAt++) {
    const dir = await copyFixture(t, 'model')
    const db = new FailingLevel(dir, failAt)
    const first = new Model({ db })
    let failed = false
    try {
      await first.open()
    } catch {
      failed = true
    }
    await first.close()
    await db.close()
    const model = new Model({ db: dir })
    await model.open()
    const values = Object.fromEntries(await Promise.all(Object.keys(EXPECTED).map(async (key) => [key, await model.get(key)])))
    t.deepEqual(values, EXPECTED, `interrupted at write ${failAt}: every value reads back after the next open`)
    t.equal(await model.get('f'), undefined, `interrupted at write ${failAt}: the quarantined key stays gone`)
    await model.close()
    t.equal((await raw(dir)).get('!meta!format')?.toString('hex'), '02', `interrupted at write ${failAt}: the upgrade finished`)
    if (!failed) {
      t.ok(failAt > 2, 'the upgrade took several writes, each interrupted once')
      break
    }
  }
})
