// Read-only CLI commands (get, ls, dump, status, export) on a --db that is
// not a database must fail with SCUTTLEDB_NOT_FOUND and leave it untouched:
// opening it would write CURRENT, LOCK, LOG and a MANIFEST there (and status
// would mint a node id), so a mistyped path became a database.
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'tape'
import { tempDir } from './helpers.js'
import { runCli } from './fixtures/net-helpers.js'

const readOnly: Array<{ name: string, args: (db: string, out: string) => string[] }> = [
  { name: 'get', args: (db) => ['get', 'k', '--db', db] },
  { name: 'ls', args: (db) => ['ls', '--db', db] },
  { name: 'dump', args: (db) => ['dump', '--db', db] },
  { name: 'status', args: (db) => ['status', '--db', db] },
  { name: 'export', args: (db, out) => ['export', '--db', db, out] }
]

test('a read-only command on an existing directory that holds no database fails SCUTTLEDB_NOT_FOUND and leaves the directory as it was', async (t) => {
  const dir = await tempDir(t)
  for (const { name, args } of readOnly) {
    const db = join(dir, `user-${name}`)
    await mkdir(db)
    await writeFile(join(db, 'notes.txt'), 'precious\n')
    const out = join(dir, `${name}.bak`)
    const res = await runCli(args(db, out))
    t.equal(res.code, 1, `${name} exits 1`)
    t.ok(res.stderr.trim().endsWith('[SCUTTLEDB_NOT_FOUND]'), `${name}: the error line ends in SCUTTLEDB_NOT_FOUND (${res.stderr.trim()})`)
    t.deepEqual(await readdir(db), ['notes.txt'], `${name}: the directory's listing is unchanged`)
    t.deepEqual((await readdir(dir)).filter((f) => f.startsWith(`${name}.bak`)), [], `${name}: no backup file (nor .partial) was left`)
  }
})

test('a read-only command on an empty directory or on a file fails SCUTTLEDB_NOT_FOUND and writes nothing', async (t) => {
  const dir = await tempDir(t)
  const empty = join(dir, 'empty')
  await mkdir(empty)
  const file = join(dir, 'file.txt')
  await writeFile(file, 'x')
  for (const { name, args } of readOnly) {
    for (const db of [empty, file]) {
      const res = await runCli(args(db, join(dir, `${name}.bak`)))
      t.ok(res.code === 1 && res.stderr.trim().endsWith('[SCUTTLEDB_NOT_FOUND]'), `${name} --db ${db === empty ? 'EMPTY_DIR' : 'FILE'}: exit 1, SCUTTLEDB_NOT_FOUND (${res.stderr.trim()})`)
    }
    t.deepEqual(await readdir(empty), [], `${name}: the empty directory is still empty`)
  }
  t.deepEqual((await readdir(dir)).sort(), ['empty', 'file.txt'], 'nothing else was made')
})

test('the read-only commands still read a real database made by set --db', async (t) => {
  const dir = await tempDir(t)
  const db = join(dir, 'db')
  t.equal((await runCli(['set', 'k', '"v"', '--db', db])).code, 0, 'set --db makes the database')
  const get = await runCli(['get', 'k', '--db', db])
  t.deepEqual([get.code, get.stdout], [0, '"v"\n'], 'get reads it')
  const dump = await runCli(['dump', '--db', db])
  t.deepEqual([dump.code, dump.stdout], [0, '{"key":"k","value":"v"}\n'], 'dump reads it')
  const exported = await runCli(['export', '--db', db, join(dir, 'db.bak')])
  t.equal(exported.code, 0, `export reads it (${exported.stderr.trim()})`)
})
