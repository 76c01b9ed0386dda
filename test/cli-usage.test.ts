// The command's rough edges a new user meets first: --version, unknown
// options, missing arguments, load's all-or-nothing, watch --db, a failed
// serve's directory. Each runs the real command as a child process.
import { readFile, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import test from 'tape'
import { tempDir } from './helpers.js'
import { runCli, startNode } from './fixtures/net-helpers.js'

async function exists (path: string): Promise<boolean> {
  return await stat(path).then(() => true, () => false)
}

test('scuttledb --version prints the version of package.json and exits 0', async (t) => {
  const { version } = JSON.parse(await readFile(resolve(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }
  for (const flag of ['--version', '-V']) {
    const res = await runCli([flag])
    t.deepEqual([res.code, res.stdout], [0, `scuttledb ${version}\n`], `${flag} prints "scuttledb ${version}"`)
  }
  t.ok((await runCli(['--help'])).stdout.includes('--version'), '--help mentions it')
})

test('an unknown option is one line with balanced quotes, naming the option and SCUTTLEDB_USAGE', async (t) => {
  for (const args of [['serve', '--bogus'], ['ls', '--db']]) {
    const res = await runCli(args)
    t.equal(res.code, 2, `${args.join(' ')} exits 2`)
    const lines = res.stderr.split('\n').filter((l) => l.length > 0)
    t.equal(lines.length, 1, `one line (${res.stderr.trim()})`)
    t.ok(lines[0].endsWith('[SCUTTLEDB_USAGE]'), 'ending in the code')
    t.ok(lines[0].includes(args[args.length - 1]), 'naming the option')
    t.equal((lines[0].match(/"/g) ?? []).length % 2, 0, 'double quotes balance')
    t.equal((lines[0].match(/'/g) ?? []).length % 2, 0, 'single quotes balance')
  }
})

test('a missing argument is a one-line coded error, then the command\'s usage', async (t) => {
  for (const args of [['get'], ['set', 'k'], ['keygen']]) {
    const res = await runCli(args)
    t.equal(res.code, 2, `${args.join(' ')} exits 2`)
    const [first, blank, usage] = res.stderr.split('\n')
    t.ok(first.startsWith(`scuttledb ${args[0]}: expected`) && first.endsWith('[SCUTTLEDB_USAGE]'), `the error is one line (${first})`)
    t.deepEqual([blank, usage.startsWith(`Usage: scuttledb ${args[0]}`)], ['', true], 'the usage follows after a blank line')
  }
})

test('load writes nothing when any line is bad, names the line, and counts keys on stdout when all are good', async (t) => {
  const dir = await tempDir(t)
  const db = join(dir, 'db')
  t.equal((await runCli(['set', 'before', '1', '--db', db])).code, 0, 'a database with one key')
  const bad = [
    ['{"key":"k1","value":1}', '{"key":"k2"}'],
    ['{"key":"k1","value":1}', 'not json'],
    ['{"key":"k1","value":1}', '{"key":"k2","value":-0}'],
    ['{"key":"k1","value":1}', '{"key":"k2","value":"\\ud800"}']
  ]
  for (const lines of bad) {
    const res = await runCli(['load', '--db', db], lines.join('\n') + '\n')
    t.equal(res.code, 1, `${lines[1]} on line 2: exit 1`)
    t.ok(res.stderr.includes('[SCUTTLEDB_BAD_REQUEST]') && /line 2\b/i.test(res.stderr), `coded, naming line 2 (${res.stderr.trim()})`)
    t.equal(res.stdout, '', 'nothing reported as loaded')
  }
  t.equal((await runCli(['ls', '--db', db])).stdout, 'before\t1\n', 'and line 1 was never written')
  const fresh = join(dir, 'never')
  t.equal((await runCli(['load', '--db', fresh], 'nope\n')).code, 1, 'a bad load into a new directory fails')
  t.notOk(await exists(fresh), 'and leaves no database behind')
  const good = await runCli(['load', '--db', db], '{"key":"a","value":1}\n\n{"key":"b","value":[2]}\r\n{"key":"before","value":null}\n')
  t.deepEqual([good.code, good.stdout, good.stderr], [0, 'loaded 3 keys\n', ''], 'a good load reports "loaded 3 keys" on stdout, nothing on stderr')
  t.equal((await runCli(['ls', '--db', db])).stdout, 'a\t1\nb\t[2]\n', 'the keys are written, and the null deleted one')
  const twice = await runCli(['load', '--db', db], '{"key":"a","value":"first"}\n{"key":"a","value":"last"}\n')
  t.deepEqual([twice.stdout, (await runCli(['get', 'a', '--db', db])).stdout], ['loaded 1 keys\n', '"last"\n'], 'of two lines for one key the later wins')
})

test('reading commands on a directory that does not exist fail without creating it', async (t) => {
  const dir = await tempDir(t)
  for (const command of [['get', 'k'], ['status']]) {
    const missing = join(dir, `typo-${command[0]}`)
    const res = await runCli([...command, '--db', missing])
    t.ok(res.code === 1 && res.stderr.includes('[SCUTTLEDB_NOT_FOUND]'), `${command[0]} --db MISSING: SCUTTLEDB_NOT_FOUND (${res.stderr.trim()})`)
    t.notOk(await exists(missing), 'and no directory was made')
  }
})

test('watch --db on a running node\'s directory points at --node instead of failing on the lock', async (t) => {
  const node = await startNode(t)
  const res = await runCli(['watch', '--db', node.db])
  t.equal(res.code, 2, 'a usage error (exit 2)')
  t.ok(res.stderr.includes('--node') && res.stderr.includes('[SCUTTLEDB_USAGE]'), `it says to use --node (${res.stderr.trim()})`)
  t.notOk(res.stderr.includes('SCUTTLEDB_DATABASE_LOCKED'), 'not the lock')
  t.equal(await node.stop(), 0, 'the node was not disturbed')
})

test('a serve that fails to start (port in use) leaves no database directory behind; an existing one stays', async (t) => {
  const a = await startNode(t)
  const dir = await tempDir(t)
  const db = join(dir, 'new-db')
  const busy = await runCli(['serve', '--db', db, '--port', String(a.port), '--http', 'off'])
  t.ok(busy.code === 1 && busy.stderr.includes('[SCUTTLEDB_ADDRESS_IN_USE]'), 'the port is in use')
  t.notOk(await exists(db), 'the directory it would have made is not there')
  t.equal((await runCli(['set', 'k', '1', '--db', db])).code, 0, 'an existing database')
  const again = await runCli(['serve', '--db', db, '--port', String(a.port), '--http', 'off'])
  t.equal(again.code, 1, 'fails to start on it')
  t.equal((await runCli(['get', 'k', '--db', db])).stdout, '1\n', 'and leaves it, and its data, alone')
  t.equal(await a.stop(), 0, 'the running node was not disturbed')
})

test('an option value that starts with a dash is taken as the value (a node id can: --allow -abc...)', async (t) => {
  // 43 base64url characters, as `scuttledb id` prints; one id in 64 starts with "-".
  const id = '-' + 'A'.repeat(42)
  const res = await runCli(['serve', '--allow', id, '--port', '0', '--http', 'off'])
  t.equal(res.code, 2, 'still a usage error here (no --key)')
  t.ok(res.stderr.includes('--allow needs --key'), `but for the right reason, not an ambiguous option (${res.stderr.trim()})`)
  const option = await runCli(['ls', '--after', '--limit', '1'])
  t.ok(option.code === 2 && option.stderr.includes('--after=VALUE') && option.stderr.endsWith('[SCUTTLEDB_USAGE]\n'), `an option of the command after a string option is not taken as its value (${option.stderr.trim()})`)
})
