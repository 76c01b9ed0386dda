import test from 'tape'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { Model, codes } from '../lib/index.js'
import { tempDir } from './helpers.js'

const CHILD = fileURLToPath(new URL('./fixtures/red11d-open-child.js', import.meta.url))
const README = fileURLToPath(new URL('../../README.md', import.meta.url))

// README, `await x.open()`, said another process holding the lock gives the store's own
// error ("classic-level's LEVEL_DATABASE_NOT_OPEN"); the code (lib/storage.ts) and the
// README's `db` option and error list say SCUTTLEDB_DATABASE_LOCKED.
test('open() of a directory another process holds rejects with SCUTTLEDB_DATABASE_LOCKED, as the README says', async (t) => {
  const dir = await tempDir(t)
  const child = spawn(process.execPath, [CHILD, dir, 'hold'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = once(child, 'close')
  t.teardown(async () => { child.kill('SIGKILL'); await exited })
  let out = ''
  child.stdout.setEncoding('utf8')
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error('the child never opened the database')) }, 20_000)
    child.stdout.on('data', (chunk: string) => { out += chunk; if (out.includes('open')) { clearTimeout(timer); resolve() } })
  })
  const model = new Model({ db: dir })
  const err = await model.open().then(() => undefined, (e: unknown) => e as { code?: string })
  t.equal(err?.code, codes.DATABASE_LOCKED, 'the open is refused, coded')
  await model.close()
  const readme = await readFile(README, 'utf8')
  const section = readme.slice(readme.indexOf('#### `await x.open()`'), readme.indexOf('#### `await x.close()`'))
  t.ok(section.includes('SCUTTLEDB_DATABASE_LOCKED'), 'the README section of open() names that code')
  t.notOk(section.includes('LEVEL_DATABASE_NOT_OPEN'), 'and not the store\'s error for it')
})
