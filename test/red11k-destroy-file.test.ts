import test from 'tape'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { destroy } from '../lib/index.js'
import { tempDir } from './helpers.js'

// destroy() on a path that is a file (a typo, or the wrong argument) rejected with
// node's uncoded ENOTDIR from its stat of FILE/CURRENT instead of the documented
// SCUTTLEDB_NOT_A_DATABASE.
test('destroy() refuses a path that is a file with SCUTTLEDB_NOT_A_DATABASE and leaves the file', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'notes.txt')
  await writeFile(file, 'keep me')
  try {
    await destroy(file)
    t.fail('destroy() of a file resolved')
  } catch (err) {
    t.equal((err as { code?: string }).code, 'SCUTTLEDB_NOT_A_DATABASE', 'coded refusal')
  }
  t.equal(await readFile(file, 'utf8'), 'keep me', 'the file is untouched')
})
