// Red-team round 9 (l): a document a peer's refused updates created is dropped when it
// closes, but a crash while it is open (its catalog record is written, dirty, at open)
// keeps it for good: after the restart it is an ordinary (renumbered) document, listed
// by names() and of the type the refused peer chose, so an honest peer's document of
// that name is refused as a type mismatch on every sync.
import test from 'tape'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { Collection, Model } from '../lib/index.js'
import { linkCollections, memoryCollection } from './collection-helpers.js'
import { tempDir } from './helpers.js'

const CHILD = join(import.meta.dirname, 'fixtures', 'red9l-refused-child.js')

test('red9l: a crash while a refused document is open does not keep it', async (t) => {
  const dir = await tempDir(t)
  const child = spawn(process.execPath, [CHILD, dir], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = once(child, 'close')
  child.stdout.setEncoding('utf8')
  let out = ''
  await new Promise<void>((resolve) => { child.stdout.on('data', (chunk: string) => { out += chunk; if (out.includes('\n')) resolve() }) })
  t.equal(out.trim(), 'ready notes', 'the child had the refused document open')
  child.kill('SIGKILL')
  await exited

  const c = new Collection({ db: dir })
  await c.open()
  t.teardown(async () => { await c.close() })
  t.deepEqual(c.names(), [], 'no document after the restart: none of its updates was taken')
  const mismatches: string[] = []
  c.on('documentError', (name: string, err: Error & { code?: string }) => { mismatches.push(`${name} ${String(err.code)}`) })
  const a = await memoryCollection(t)
  await (await a.doc('notes', Model)).set('k', 'v')
  const link = linkCollections(a, c)
  await link.synced
  t.equal(c.typeOf('notes'), 'Model', `an honest peer's Model 'notes' is taken (errors: ${mismatches.join('; ') || 'none'})`)
  link.a.destroy()
  await link.closed
})
