// Every error line of the command ends in a scuttledb code, as docs/cli.md
// promises: an unknown command had none, and a --db that is a file gave the
// store's bare "Database failed to open [LEVEL_DATABASE_NOT_OPEN]" (or ENOTDIR).
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'tape'
import { tempDir } from './helpers.js'
import { runCli } from './fixtures/net-helpers.js'

test('an unknown command exits 2 with one error line ending in SCUTTLEDB_USAGE, then the usage', async (t) => {
  const res = await runCli(['frob'])
  t.equal(res.code, 2, 'exit 2')
  const [first, blank] = res.stderr.split('\n')
  t.ok(first.endsWith('[SCUTTLEDB_USAGE]'), `the first line ends in the code (${first})`)
  t.ok(first.includes('frob'), 'and names the command')
  t.equal(blank, '', 'the usage follows after a blank line')
})

test('a writing command or import with --db at a file exits 2 with SCUTTLEDB_USAGE naming the path', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'hostname')
  await writeFile(file, 'x\n')
  const backup = join(dir, 'none.bak')
  await writeFile(backup, '')
  for (const args of [['set', 'k', '1', '--db', file], ['del', 'k', '--db', file], ['load', '-', '--db', file], ['import', backup, '--db', file]]) {
    const res = await runCli(args, '{"key":"k","value":1}\n')
    const line = res.stderr.trim()
    t.equal(res.code, 2, `${args[0]} exits 2`)
    t.ok(line.endsWith('[SCUTTLEDB_USAGE]'), `${args[0]}: the line ends in SCUTTLEDB_USAGE (${line})`)
    t.ok(line.includes(file), `${args[0]}: it names the path`)
  }
})

test('serve with --db at a file exits 2 with SCUTTLEDB_USAGE, naming the path', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'hostname')
  await writeFile(file, 'x\n')
  const res = await runCli(['serve', '--db', file, '--port', '0', '--http', 'off'])
  t.equal(res.code, 2, 'it exits 2')
  const line = res.stderr.trim().split('\n').pop() ?? ''
  t.ok(line.includes(file), `the error line names the path (${line})`)
  t.ok(line.endsWith('[SCUTTLEDB_USAGE]'), 'and ends in SCUTTLEDB_USAGE')
})
