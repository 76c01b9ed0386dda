import { spawn } from 'node:child_process'
import { readdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'tape'
import { Model } from '../lib/index.js'
import { link, tempDir, until } from './helpers.js'
import { MAIN, runCli } from './fixtures/net-helpers.js'

// docs/cli.md, Backups: an import killed part way leaves DIR as it was; README: "after a crash
// (SIGKILL) it reopens with nothing acknowledged lost", "Peers converge". `import`
// writes the backup's raw records straight into DIR in key order, batch by batch:
// `clock` and `data-keys` first, then `log`, then `meta`. Killed while it writes the
// log, it leaves a DIR that opens without complaint as a new database (no `meta`
// yet: a new id, an empty clock) whose key records point at log entries that were
// never written. A sync from the backup's own node then brings every update, but
// each one ties with the key record already there (same ts and source), so it is
// not stored: the keys stay unreadable for good while the clock says everything
// arrived, and no later sync brings them.

const KEYS = 5000

async function logBytes (dir: string): Promise<number> {
  const files = await readdir(dir).catch(() => [] as string[])
  let n = 0
  for (const f of files.filter((f) => f.endsWith('.log'))) n += (await stat(join(dir, f)).catch(() => ({ size: 0 }))).size
  return n
}

test('a database left by an import killed with SIGKILL does not open as one that never gets its keys back', async (t) => {
  const dir = await tempDir(t)
  const origin = join(dir, 'origin')
  const a = new Model({ db: origin })
  await a.open()
  for (let i = 0; i < KEYS; i += 1000) {
    await a.batch(Array.from({ length: 1000 }, (_, j) => ({ type: 'put' as const, key: `k${i + j}`, value: { n: i + j, pad: 'x'.repeat(50) } })))
  }
  await a.close()
  const file = join(dir, 'origin.backup')
  const exported = await runCli(['export', '--db', origin, file])
  t.equal(exported.code, 0, `exported (${exported.stderr.trim()})`)
  const size = (await stat(file)).size

  // Kill the import once LevelDB's log holds about half of the backup (in the middle of its records).
  const target = join(dir, 'restored')
  let signal: string | null = null
  for (let attempt = 0; attempt < 5 && signal === null; attempt++) {
    const child = spawn(process.execPath, [MAIN, 'import', file, '--db', target], { stdio: 'ignore' })
    const exited = new Promise<string | null>((resolve) => { child.once('exit', (_code, sig) => { resolve(sig) }) })
    let done = false
    void exited.then(() => { done = true })
    while (!done) {
      // The records go into a directory beside DIR (DIR.importing-...), renamed into place once whole.
      const beside = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.startsWith('restored.importing-'))
      const written = beside.length === 0 ? await logBytes(target) : await logBytes(join(dir, beside[0]))
      if (written > size / 2) {
        child.kill('SIGKILL')
        break
      }
      await new Promise((resolve) => setImmediate(resolve))
    }
    signal = await exited
    // It finished first: try again on a fresh target.
    if (signal === null) await rm(target, { recursive: true, force: true })
  }
  t.equal(signal, 'SIGKILL', 'the import was killed while it wrote')
  const left = await readdir(target).catch(() => [] as string[])
  t.deepEqual(left, [], 'DIR is as it was before the import (absent): nothing of a partial import is in it')

  const restored = new Model({ db: target })
  const opened = await restored.open().then(() => true, () => false)
  if (!opened) {
    t.pass('the directory of a killed import does not open as a database')
    return
  }
  const source = new Model({ db: origin })
  await source.open()
  t.teardown(async () => { await source.close(); await restored.close() })
  const l = link(source, restored)
  await l.synced
  const count = async (): Promise<number> => { let n = 0; for await (const _ of restored.keys()) n++; return n }
  t.ok(await until(async () => await count() === KEYS), `after a sync from the origin, the restore holds its ${KEYS} keys (it holds ${await count()})`)
  let missing = 0
  for (let i = 0; i < KEYS; i++) if ((await restored.get(`k${i}`)) === undefined) missing++
  t.equal(missing, 0, 'every key reads back')
  l.a.destroy()
  await l.closed
})
