import test from 'tape'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Collection, Model } from '../lib/index.js'

// ad050c3 claims a directory by its canonical path before its Level is made. An open whose
// Level cannot be made (classic-level refuses the path '' in its constructor) rejected, but
// the claim it had just taken (path.resolve('') is the working directory) was never let go:
// the working directory then could not be opened by any instance of this process.
for (const [kind, make] of [
  ['Model', (db: string) => new Model({ db })],
  ['Collection', (db: string) => new Collection({ db })]
] as const) {
  test(`${kind}: an open refused for the path '' leaves no claim on the working directory`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'review11-empty-'))
    const before = process.cwd()
    process.chdir(dir)
    t.teardown(async () => { process.chdir(before); await rm(dir, { recursive: true, force: true }) })
    let refused: unknown
    try {
      await make('').open()
    } catch (err) {
      refused = err
    }
    t.ok(refused instanceof Error, `the open of '' is refused (${String((refused as Error | undefined)?.message)})`)
    const real = make(dir)
    let code: unknown
    try {
      await real.open()
    } catch (err) {
      code = (err as { code?: unknown }).code ?? (err as Error).message
    }
    t.equal(code, undefined, 'the working directory, by its absolute path, opens')
    await real.close()
  })
}
