import test from 'tape'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { Model } from '../lib/index.js'
import { tempDir } from './helpers.js'

// An instance on a plain sublevel (utf8 keys, binary values) of such a database commits
// with the root's own chained batch and the sublevel's prefix: the same keys and bytes a
// sublevel batch writes, without its array batch (docs/storage.md). A sublevel with
// prewrite hooks or write listeners keeps its own path, so that they see every write.

type Root = ClassicLevel<string, Uint8Array>

async function openRoot (t: test.Test): Promise<Root> {
  const root = new ClassicLevel<string, Uint8Array>(join(await tempDir(t), 'db'), { keyEncoding: 'utf8', valueEncoding: 'buffer' })
  await root.open()
  return root
}

/** Count the root's chained batches (batch() without operations). */
function countChained (root: Root): { count: number } {
  const counter = { count: 0 }
  const batch = root.batch.bind(root) as (...args: unknown[]) => unknown
  ;(root as unknown as { batch: (...args: unknown[]) => unknown }).batch = (...args: unknown[]) => {
    if (args.length === 0) counter.count++
    return batch(...args)
  }
  return counter
}

async function rootKeys (root: Root): Promise<string[]> {
  return await root.keys().all()
}

test('a Model on a plain sublevel commits with the root\'s chained batch, under the sublevel\'s prefix, and reopens with every value', async (t) => {
  const root = await openRoot(t)
  const chained = countChained(root)
  const model = new Model({ db: root.sublevel('doc-1', { valueEncoding: 'buffer' }) })
  await model.open()
  await Promise.all([model.set('a', 1), model.set('b', { deep: [1, 'two'] }), model.set('c', 'three')])
  await model.delete('c')
  t.ok(chained.count >= 1, `commits used the root's chained batch (${chained.count})`)
  await model.close()
  const keys = await rootKeys(root)
  t.ok(keys.length > 0 && keys.every((key) => key.startsWith('!doc-1!!')), 'every key is under the sublevel\'s prefix')
  for (const name of ['meta', 'clock', 'log', 'data-keys']) {
    t.ok(keys.some((key) => key.startsWith(`!doc-1!!${name}!`)), `the ${name} records are where a sublevel puts them`)
  }
  const again = new Model({ db: root.sublevel('doc-1', { valueEncoding: 'buffer' }) })
  await again.open()
  t.deepEqual([await again.get('a'), await again.get('b'), await again.get('c')], [1, { deep: [1, 'two'] }, undefined], 'read back through the sublevel')
  await again.close()
  await root.close()
})

test('a nested plain sublevel is written under its full prefix', async (t) => {
  const root = await openRoot(t)
  const model = new Model({ db: root.sublevel('outer').sublevel('inner', { valueEncoding: 'buffer' }) })
  await model.open()
  await model.set('k', 'v')
  await model.close()
  const keys = await rootKeys(root)
  t.ok(keys.length > 0 && keys.every((key) => key.startsWith('!outer!!inner!!')), 'every key is under !outer!!inner!')
  const again = new Model({ db: root.sublevel('outer').sublevel('inner', { valueEncoding: 'buffer' }) })
  await again.open()
  t.equal(await again.get('k'), 'v', 'read back')
  await again.close()
  await root.close()
})

test('a sublevel with a prewrite hook sees every commit of the instance on it', async (t) => {
  const root = await openRoot(t)
  const sublevel = root.sublevel<string, Uint8Array>('doc-1', { valueEncoding: 'buffer' })
  const seen: string[] = []
  sublevel.hooks.prewrite.add((op) => { seen.push(op.key) })
  const model = new Model({ db: sublevel })
  await model.open()
  await model.set('a', 1)
  await model.set('b', 2)
  await model.close()
  t.equal(seen.filter((key) => key.startsWith('!data-keys!')).length, 2, 'the hook saw both key records')
  t.ok(seen.some((key) => key.startsWith('!log!')), 'and the log entries')
  await root.close()
})

test('write listeners on the sublevel hear every commit of the instance on it', async (t) => {
  const root = await openRoot(t)
  const sublevel = root.sublevel<string, Uint8Array>('doc-1', { valueEncoding: 'buffer' })
  let writes = 0
  sublevel.on('write', (ops: unknown[]) => { writes += ops.length })
  const model = new Model({ db: sublevel })
  await model.open()
  await model.set('a', 1)
  await model.close()
  t.ok(writes >= 3, `the sublevel's write event carried the commit (${writes} operations)`)
  await root.close()
})
