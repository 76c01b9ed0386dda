// An empty option value (an unset shell variable: --db "$DIR") is SCUTTLEDB_USAGE,
// exit 2. `serve --db ''` opened the working directory as the database, writing
// LevelDB's files (CURRENT, LOCK, LOG, ...) among the user's; `set --db ''` failed
// with classic-level's uncoded message. A --static that is not a directory is
// refused too (it served nothing but 404s).
import { execFile } from 'node:child_process'
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'tape'
import { tempDir } from './helpers.js'
import { MAIN, runCli } from './fixtures/net-helpers.js'

async function runIn (cwd: string, args: string[]): Promise<{ code: number, stderr: string }> {
  return await new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { cwd, timeout: 20_000 }, (err, _stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1, stderr })
    }).stdin?.end()
  })
}

test('an empty --db is SCUTTLEDB_USAGE (exit 2) for serve and the client commands, and writes nothing in the working directory', async (t) => {
  const cwd = await tempDir(t)
  await writeFile(join(cwd, 'notes.txt'), 'mine')
  for (const args of [
    ['serve', '--db', '', '--port', '0', '--http', 'off'],
    ['serve', '--db=', '--port', '0', '--http', 'off'],
    ['set', 'k', 'v', '--db', ''],
    ['get', 'k', '--db', ''],
    ['load', '--db', ''],
    ['export', 'out.backup', '--db', '']
  ]) {
    const res = await runIn(cwd, args)
    t.equal(res.code, 2, `${args.join(' ')}: exit 2`)
    t.ok(res.stderr.trim().endsWith('[SCUTTLEDB_USAGE]'), `${args.join(' ')}: SCUTTLEDB_USAGE (${res.stderr.trim().split('\n')[0]})`)
  }
  t.deepEqual(await readdir(cwd), ['notes.txt'], 'the working directory holds only what it held')
})

test('other empty option values are SCUTTLEDB_USAGE too; ls --after \'\' still starts after the empty key', async (t) => {
  const dir = await tempDir(t)
  const db = join(dir, 'db')
  for (const args of [['get', 'k', '--node', ''], ['set', 'k', 'v', '--db', db, '--key', ''], ['serve', '--db', db, '--peer', '', '--port', '0', '--http', 'off']]) {
    const res = await runCli(args)
    t.ok(res.code === 2 && res.stderr.trim().endsWith('[SCUTTLEDB_USAGE]'), `${args.join(' ')}: exit 2, SCUTTLEDB_USAGE (${res.stderr.trim().split('\n')[0]})`)
  }
  t.equal((await runCli(['set', '', 'empty', '--db', db])).code, 0, 'the empty key is set')
  t.equal((await runCli(['set', 'a', '1', '--db', db])).code, 0, 'and a')
  const ls = await runCli(['ls', '--after', '', '--db', db])
  t.equal(ls.stdout, 'a\t1\n', 'ls --after \'\' lists what follows the empty key')
})

test('serve --static with a path that is not a directory is SCUTTLEDB_USAGE (exit 2) before anything starts', async (t) => {
  const dir = await tempDir(t)
  await writeFile(join(dir, 'file'), 'x')
  for (const path of [join(dir, 'missing'), join(dir, 'file')]) {
    const res = await runCli(['serve', '--db', join(dir, 'db'), '--port', '0', '--http', '0', '--static', path])
    t.ok(res.code === 2 && res.stderr.trim().endsWith('[SCUTTLEDB_USAGE]'), `--static ${path.slice(dir.length)}: exit 2, SCUTTLEDB_USAGE (${res.stderr.trim().split('\n')[0]})`)
  }
  t.deepEqual((await readdir(dir)).sort(), ['file'], 'no database was made')
})
