import test from 'tape'
import { Collection, Model } from '../lib/index.js'
import { tempDir } from './helpers.js'

function timers (): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
}

test('documents with a tombstoneTTL closed idle under maxOpen leave no purge timer behind', async (t) => {
  const before = timers()
  const c = new Collection({ db: await tempDir(t), maxOpen: 3, documentOptions: () => ({ tombstoneTTL: 60_000 }) })
  await c.open()
  t.teardown(async () => { await c.close() })
  for (let i = 0; i < 60; i++) await c.use(`d${i}`, async (doc: Model) => { await doc.set('k', i); await doc.delete('k') }, Model)
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.ok(c.opened.length <= 3, `at most maxOpen documents are open (${c.opened.length})`)
  t.ok(timers() - before <= c.opened.length, `one purge timer per open document at most (${timers() - before} for ${c.opened.length})`)
  await c.close()
  t.equal(timers() - before, 0, 'none after close')
})
