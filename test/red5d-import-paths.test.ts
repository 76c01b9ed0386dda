/**
 * import reads FILE twice (check, then restore). A whole backup given as a
 * stream (`import /dev/stdin < file`, a FIFO) must not be reported as a
 * truncated one, nor hang; and DIR given as a symlink to an empty directory
 * (a data directory on another disk) is "absent or empty" as the docs say.
 */
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { lstat, mkdir, readdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import test from 'tape'
import { tempDir } from './helpers.js'
import { MAIN, runCli } from './fixtures/net-helpers.js'

async function backupOf (dir: string): Promise<string> {
  const db = join(dir, 'db')
  await writeFile(join(dir, 'lines.jsonl'), '{"key":"a","value":1}\n{"key":"b","value":"two"}\n')
  const loaded = await runCli(['load', join(dir, 'lines.jsonl'), '--db', db])
  if (loaded.code !== 0) throw new Error(loaded.stderr)
  const file = join(dir, 'a.backup')
  const exported = await runCli(['export', '--db', db, file])
  if (exported.code !== 0) throw new Error(exported.stderr)
  return file
}

/** `cat FILE | scuttledb ARGS` as a shell runs it (a pipe, not a socket); code -1 when it had to be killed (it hung). */
async function withStdin (args: string[], file: string): Promise<{ code: number, stderr: string }> {
  const child = spawn('sh', ['-c', 'f=$1; n=$2; m=$3; shift 3; cat "$f" | "$n" "$m" "$@"', 'sh', file, process.execPath, MAIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
  const [code] = await once(child, 'exit') as [number | null]
  clearTimeout(timer)
  return { code: code ?? -1, stderr }
}

const fine = (r: { code: number, stderr: string }): boolean =>
  r.code === 0 || (r.code === 2 && /\[SCUTTLEDB_USAGE\]$/m.test(r.stderr))

test('a whole backup piped to import /dev/stdin is restored or refused as a usage error, never called truncated', async (t) => {
  const dir = await tempDir(t)
  const file = await backupOf(dir)
  const r = await withStdin(['import', '/dev/stdin', '--db', join(dir, 'r')], file)
  t.notOk(r.stderr.includes('SCUTTLEDB_BACKUP_TRUNCATED'), `a whole backup is not TRUNCATED (${r.stderr.trim()})`)
  t.ok(fine(r), `exit 0, or 2 with SCUTTLEDB_USAGE (got ${r.code})`)
  t.deepEqual((await readdir(dir)).filter((n) => n.includes('.importing-')), [], 'no .importing- directory left behind')
})

test('import from a FIFO written once ends (no hang) and leaves nothing behind', async (t) => {
  const dir = await tempDir(t)
  const file = await backupOf(dir)
  const fifo = join(dir, 'fifo')
  await promisify(execFile)('mkfifo', [fifo])
  // One writer, as `mkfifo f; cat backup > f & scuttledb import f ...`.
  const writer = spawn('sh', ['-c', 'cat "$1" > "$2"', 'sh', file, fifo], { stdio: 'ignore' })
  t.teardown(() => { if (writer.exitCode === null) writer.kill('SIGKILL') })
  const r = await runCli(['import', fifo, '--db', join(dir, 'r')])
  t.notEqual(r.code, -1, `import ends (code ${r.code}: ${r.stderr.trim()})`)
  t.ok(fine(r), `exit 0, or 2 with SCUTTLEDB_USAGE (got ${r.code})`)
  t.deepEqual((await readdir(dir)).filter((n) => n.includes('.importing-')), [], 'no .importing- directory left behind')
})

test('import into a symlink to an empty directory restores into that directory', async (t) => {
  const dir = await tempDir(t)
  const file = await backupOf(dir)
  const target = join(dir, 'disk2', 'data')
  await mkdir(target, { recursive: true })
  const link = join(dir, 'data')
  await symlink(target, link)
  const r = await runCli(['import', file, '--db', link])
  t.equal(r.code, 0, `import into the symlinked empty directory (${r.stderr.trim()})`)
  t.ok((await lstat(link)).isSymbolicLink(), 'the symlink is kept')
  t.ok((await readdir(target)).includes('CURRENT'), 'the database is in the directory it points to')
  const got = await runCli(['get', 'b', '--db', link])
  t.equal(got.stdout.trim(), '"two"', 'and reads back through the link')
})
