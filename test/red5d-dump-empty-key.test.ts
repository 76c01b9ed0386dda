/**
 * The empty key is a key: the library, `set '' VALUE --db` and `POST /batch`
 * store it, and `dump` prints it. `load` of that dump must restore it, not
 * refuse the whole file (load is all or nothing, so one such key made a dump
 * of the database impossible to load anywhere).
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'tape'
import { tempDir } from './helpers.js'
import { runCli } from './fixtures/net-helpers.js'

test('a dump holding the empty key loads back', async (t) => {
  const dir = await tempDir(t)
  const a = join(dir, 'a')
  t.equal((await runCli(['set', '', 'empty', '--db', a])).code, 0, "set '' is accepted")
  t.equal((await runCli(['set', 'k', 'v', '--db', a])).code, 0, 'set k')
  const dump = await runCli(['dump', '--db', a])
  t.equal(dump.code, 0, 'dump')
  t.ok(dump.stdout.includes('{"key":"","value":"empty"}'), 'the dump holds the empty key')
  const file = join(dir, 'a.jsonl')
  await writeFile(file, dump.stdout)
  const b = join(dir, 'b')
  const loaded = await runCli(['load', file, '--db', b])
  t.equal(loaded.code, 0, `load of that dump (${loaded.stderr.trim()})`)
  const again = await runCli(['dump', '--db', b])
  t.equal(again.stdout, dump.stdout, 'the loaded database dumps the same')
})
