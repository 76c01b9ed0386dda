import test from 'tape'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { MemoryLevel } from 'memory-level'
import { Model, codes, destroy, seededRandom } from '../lib/index.js'
import { allHistory, link, memoryModel, tempDir, until } from './helpers.js'
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

const WRITER = fileURLToPath(new URL('./fixtures/batch-writer.js', import.meta.url))
const SEED = Number(process.env.BATCH_SEED ?? 0) || Math.floor(Math.random() * 2 ** 32)

test('batch() commits puts and deletes in one commit with one acknowledgement, whatever maxBatch', async (t) => {
  const model = await memoryModel(t, { maxBatch: 2 })
  await model.set('gone', 1)
  const before = model.stats.commits
  const operations = Array.from({ length: 10 }, (_, i) => ({ type: 'put' as const, key: 'k' + i, value: i }))
  await model.batch([...operations, { type: 'del', key: 'gone' }, { type: 'put', key: 'k0', value: 'again' }])
  t.equal(model.stats.commits - before, 1, 'one commit for 12 operations with maxBatch 2')
  t.equal(await model.get('k0'), 'again', 'a later operation on the same key wins')
  t.equal(await model.get('k9'), 9, 'every put is stored')
  t.equal(await model.get('gone'), undefined, 'the delete is stored')
  const stamps = (await allHistory(model)).map((u) => (u as [unknown, number])[1])
  t.equal(new Set(stamps).size, stamps.length, 'every update has its own timestamp')
  await model.batch([])
  t.pass('an empty batch resolves')
})

test('batch() checks every operation first: one bad operation throws and nothing is written', async (t) => {
  const model = await memoryModel(t)
  const bad: Array<[string, unknown]> = [
    ['a function value', [{ type: 'put', key: 'a', value: 1 }, { type: 'put', key: 'b', value: () => 1 }]],
    ['an undefined value', [{ type: 'put', key: 'a', value: 1 }, { type: 'put', key: 'b', value: undefined }]]
  ]
  for (const [what, operations] of bad) {
    try {
      await model.batch(operations as never)
      t.fail(`${what} was accepted`)
    } catch (err) {
      t.equal((err as { code?: string }).code, codes.INVALID_VALUE, `${what}: ${codes.INVALID_VALUE}`)
    }
  }
  for (const [what, operations] of [['an unknown type', [{ type: 'merge', key: 'a' }]], ['a key that is not a string', [{ type: 'del', key: 1 }]], ['not an array', 'x']] as const) {
    try {
      await model.batch(operations as never)
      t.fail(`${what} was accepted`)
    } catch (err) {
      t.ok(err instanceof TypeError, `${what}: a TypeError`)
    }
  }
  t.deepEqual(await allHistory(model), [], 'nothing was written')
})

test('batch() is all or none when the write fails: no key of it is stored', async (t) => {
  const db = new MemoryLevel<string, Buffer>({ keyEncoding: 'utf8', valueEncoding: 'buffer' })
  const model = new Model({ db })
  await model.open()
  t.teardown(async () => { await model.close() })
  // Commits write through _batch (memory-level's chained batches do too).
  const hooks = db as unknown as { _batch: (...args: unknown[]) => Promise<void> }
  const batch = hooks._batch.bind(db)
  let fail = true
  hooks._batch = async (...args) => {
    if (fail) throw new Error('injected: the write did not land')
    await batch(...args)
  }
  try {
    await model.batch([{ type: 'put', key: 'a', value: 1 }, { type: 'put', key: 'b', value: 2 }])
    t.fail('the batch resolved')
  } catch (err) {
    t.ok(/did not land/.test((err as Error).message), 'the batch rejects with the store\'s error')
  }
  t.equal(await model.get('a'), undefined, 'no key of it is stored')
  t.equal(await model.get('b'), undefined, 'none')
  fail = false
  await model.batch([{ type: 'put', key: 'a', value: 3 }])
  t.equal(await model.get('a'), 3, 'later batches commit')
})

test('a peer receives every operation of a batch, by history and live', async (t) => {
  const a = await memoryModel(t)
  const b = await memoryModel(t)
  await a.batch([{ type: 'put', key: 'x', value: 1 }, { type: 'put', key: 'y', value: 2 }])
  const l = link(a, b)
  await l.synced
  t.deepEqual([await b.get('x'), await b.get('y')], [1, 2], 'by history')
  await a.batch(Array.from({ length: 50 }, (_, i) => ({ type: 'put' as const, key: 'live' + i, value: i })))
  t.ok(await until(async () => await b.get('live49') === 49), 'live: the last operation arrives')
  const values = await Promise.all(Array.from({ length: 50 }, async (_, i) => await b.get('live' + i)))
  t.deepEqual(values, Array.from({ length: 50 }, (_, i) => i), 'and with it every earlier one (per-source order)')
  await a.clear()
  t.ok(await until(async () => (await b.toJSON()) !== null && Object.keys(await b.toJSON()).length === 0), 'clear() deletes every key, on the peer too')
  t.deepEqual(await a.toJSON(), {}, 'and locally')
  l.a.destroy()
  await l.closed
})

test('after SIGKILL, every batch is stored whole or not at all, and every acknowledged batch is stored', async (t) => {
  const dir = await tempDir(t)
  const random = seededRandom(SEED)
  let first = 0
  // Across rounds: batch numbers never repeat (each round starts 100,000 higher).
  const sizes = new Map<number, number>()
  const acked = new Set<number>()
  for (let round = 0; round < 8; round++) {
    const child = spawn(process.execPath, [WRITER, dir, String(first), String(SEED + round)], { stdio: ['ignore', 'pipe', 'pipe'] })
    let buffer = ''
    let opened: () => void = () => {}
    const open = new Promise<void>((resolve) => { opened = resolve })
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk
      const lines = buffer.split('\n')
      buffer = lines.pop() as string
      for (const line of lines) {
        const [kind, i, n] = line.split(' ')
        if (kind === 'open') opened()
        else if (kind === 'start') sizes.set(Number(i), Number(n))
        else if (kind === 'ack') acked.add(Number(i))
      }
    })
    const exited = new Promise((resolve) => child.once('exit', resolve))
    await open
    await new Promise((resolve) => setTimeout(resolve, 20 + Math.floor(random() * 200)))
    child.kill('SIGKILL')
    await exited
    const model = new Model({ db: dir })
    await model.open()
    const counts = new Map<number, number>()
    for await (const [key] of model.entries({ gte: 'b', lt: 'c' })) {
      const i = Number(key.slice(1, key.indexOf('-')))
      counts.set(i, (counts.get(i) ?? 0) + 1)
    }
    const partial = [...counts].filter(([i, count]) => count !== sizes.get(i))
    t.deepEqual(partial, [], `round ${round} (seed ${SEED}): no batch is stored in part (${counts.size} batches stored)`)
    const lost = [...acked].filter((i) => !counts.has(i))
    t.deepEqual(lost, [], `round ${round} (seed ${SEED}): every acknowledged batch (${acked.size}) is stored`)
    const last = await model.get('last') as { i: number } | undefined
    t.ok(last === undefined || counts.has(last.i), `round ${round}: the key 'last' points at a stored batch`)
    await model.close()
    first += 100_000
  }
})

test('destroy(path) deletes a closed database, refuses an open one and a directory that is not a database', async (t) => {
  const dir = join(await tempDir(t), 'db')
  const model = new Model({ db: dir })
  await model.open()
  await model.set('k', 1)
  try {
    await destroy(dir)
    t.fail('an open database was destroyed')
  } catch (err) {
    t.equal((err as { code?: string }).code, codes.DATABASE_LOCKED, `an open database: ${codes.DATABASE_LOCKED}`)
  }
  await model.close()
  await destroy(dir)
  t.notOk(existsSync(dir), 'a closed database is gone')
  await destroy(dir)
  t.pass('destroying what is not there resolves')
  const other = join(await tempDir(t), 'photos')
  await mkdir(other)
  await writeFile(join(other, 'a.jpg'), 'x')
  try {
    await destroy(other)
    t.fail('a plain directory was deleted')
  } catch (err) {
    t.equal((err as { code?: string }).code, codes.NOT_A_DATABASE, `a plain directory: ${codes.NOT_A_DATABASE}`)
  }
  t.ok(existsSync(join(other, 'a.jpg')), 'and its files are untouched')
})
