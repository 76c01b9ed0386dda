import test from 'tape'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { Level } from 'level'
import { Model } from '../lib/index.js'
import { allHistory, tempDir } from './helpers.js'

const fixture = fileURLToPath(new URL('../../test/fixtures/format-1/model', import.meta.url))

// docs/subclassing.md / README: `db` may be a sublevel; a 0.1.0 database kept in one upgrades like any other.
test('a 0.1.0 Model kept in a sublevel opens upgraded, every value intact', async (t) => {
  const source = new Level<string, Buffer>(await copyOf(t), { keyEncoding: 'utf8', valueEncoding: 'buffer' })
  const records: Array<[string, Buffer]> = []
  for await (const entry of source.iterator()) records.push(entry)
  await source.close()
  const root = new Level<string, Buffer>(join(await tempDir(t), 'root'), { keyEncoding: 'utf8', valueEncoding: 'buffer' })
  await root.batch(records.map(([key, value]) => ({ type: 'put' as const, key: '!app!' + key, value })))
  const model = new Model({ db: root.sublevel('app', { keyEncoding: 'utf8', valueEncoding: 'buffer' }) })
  model.on('rejected', () => {})
  await model.open()
  t.teardown(async () => { await model.close(); await root.close() })
  t.equal(await model.get('plain'), 'world', 'a value reads back')
  t.deepEqual(await model.get('obj'), { a: [1, { b: null }], 'ü': 'ß😀', e: {} }, 'an object reads back')
  t.equal(await model.get('gone'), undefined, 'a delete stays deleted')
  t.equal(await model.get('f'), undefined, 'the quarantined key is gone')
  t.equal((await allHistory(model)).length, 9, 'the history holds every replicable update')
  const upgraded = await root.get('!app!!meta!format')
  t.equal(upgraded?.toString('hex'), '02', 'the format is 2')
  let old = 0
  for await (const [key, bytes] of root.iterator({ gte: '!app!!data-keys!', lt: '!app!!data-keys"' })) if (bytes[0] !== 0x92 && bytes[0] !== 0x93) { old++; t.comment(key) }
  t.equal(old, 0, 'every key record is a pointer')
})

async function copyOf (t: Parameters<typeof tempDir>[0]): Promise<string> {
  const { cp } = await import('node:fs/promises')
  const dir = join(await tempDir(t), 'model')
  await cp(fixture, dir, { recursive: true })
  return dir
}
