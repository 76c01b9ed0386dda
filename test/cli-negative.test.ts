import test from 'tape'
import { join } from 'node:path'
import { runCli } from './fixtures/net-helpers.js'
import { tempDir } from './helpers.js'

test('scuttledb set takes a negative number as its VALUE (it was refused as an unknown option); a dash that is no number is still an option', async (t) => {
  const db = join(await tempDir(t), 'db')
  for (const [value, stored] of [['-5', '-5'], ['-1.5e3', '-1500'], ['-0.25', '-0.25']]) {
    const set = await runCli(['set', 'k', value as string, '--db', db])
    t.equal(set.code, 0, `set k ${value as string} exits 0 ${set.stderr}`)
    const got = await runCli(['get', 'k', '--db', db])
    t.equal(got.stdout.trim(), stored, `and get reads ${stored as string}`)
  }
  const dash = await runCli(['set', 'k', '-x', '--db', db])
  t.equal(dash.code, 2, 'set k -x exits 2')
  t.ok(dash.stderr.includes('unknown option -x') && dash.stderr.includes('[SCUTTLEDB_USAGE]'), 'as an unknown option, coded')
  const raw = await runCli(['set', 'k', '--raw', '--db', db, '--', '-x'])
  t.equal(raw.code, 0, 'after --, a dash is a value')
  t.equal((await runCli(['get', 'k', '--db', db])).stdout.trim(), '"-x"', 'stored as the string')
})
