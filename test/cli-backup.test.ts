import { open, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'tape'
import { tempDir, until } from './helpers.js'
import { http, runCli, startNode } from './fixtures/net-helpers.js'

interface Stamp { key: string, ts: number, source: string }

async function put (base: string, key: string, value: unknown): Promise<Stamp> {
  const res = await http(base, 'PUT', `/kv/${key}`, value)
  if (res.status !== 200) throw new Error(`PUT ${key}: ${res.status}`)
  return res.body as Stamp
}

async function has (base: string, key: string, value: unknown): Promise<boolean> {
  const res = await http(base, 'GET', `/kv/${key}`)
  return res.status === 200 && JSON.stringify(res.body) === JSON.stringify(value)
}

test('an old backup restored with its id gets back every later write, its own included, and stamps its next writes above them', async (t) => {
  const dir = await tempDir(t)
  const a = await startNode(t)
  const b = await startNode(t, ['--peer', `127.0.0.1:${a.port}`])
  await put(a.http, 'k1', 1)
  await put(b.http, 'from-b', 'b1')
  t.ok(await until(async () => await has(b.http, 'k1', 1) && await has(a.http, 'from-b', 'b1')), 'a and b synced before the backup')
  const file = join(dir, 'a.backup')
  const exported = await runCli(['export', '--node', a.http, file])
  t.equal(exported.code, 0, `export through the running node (${exported.stderr.trim()})`)
  // a moves on after the backup; b gets those writes.
  await put(a.http, 'k1', 2)
  const last = await put(a.http, 'k2', 3)
  await put(b.http, 'from-b', 'b2')
  t.ok(await until(async () => await has(b.http, 'k2', 3) && await has(b.http, 'k1', 2)), 'b has a\'s writes made after the backup')
  await a.stop('SIGKILL')

  const restored = join(dir, 'restored')
  const imported = await runCli(['import', file, '--db', restored])
  t.equal(imported.code, 0, `import (${imported.stderr.trim()})`)
  // Before it has synced, a write would advance its clock past the writes it must get back: refused.
  const alone = await startNode(t, [], { db: restored })
  const early = await http(alone.http, 'PUT', '/kv/early', 0)
  t.deepEqual([early.status, (early.body as { error: { code: string } }).error.code], [503, 'SCUTTLEDB_RESTORE_UNSYNCED'],
    'an unsynced restore refuses local writes: 503 SCUTTLEDB_RESTORE_UNSYNCED')
  t.equal(((await http(alone.http, 'GET', '/status')).body as { restoring: boolean }).restoring, true, 'its status says so')
  await alone.stop()
  const direct = await runCli(['set', 'early', '0', '--db', restored])
  t.ok(direct.code === 1 && direct.stderr.includes('[SCUTTLEDB_RESTORE_UNSYNCED]'), 'and so does set --db')
  const a2 = await startNode(t, ['--peer', `127.0.0.1:${b.port}`], { db: restored })
  t.equal(a2.id, a.id, 'the restored node keeps the id')
  t.ok(await until(async () => await has(a2.http, 'k1', 2) && await has(a2.http, 'k2', 3) && await has(a2.http, 'from-b', 'b2')),
    'it gets back its own later writes (k1=2, k2=3) and b\'s')
  const next = await put(a2.http, 'k3', 4)
  t.equal(next.source, a.id, 'its next write is under its id')
  t.ok(next.ts > last.ts, `stamped above its writes made after the backup (${next.ts} > ${last.ts})`)
  t.ok(await until(async () => await has(b.http, 'k3', 4)), 'and it reaches the peer')
  t.equal(((await http(a2.http, 'GET', '/status')).body as { restoring: boolean }).restoring, false, 'no longer restoring')
})

test('a backup of a directory restored with --new-id joins as a new node', async (t) => {
  const dir = await tempDir(t)
  const a = await startNode(t)
  await put(a.http, 'x', 'from-a')
  await a.stop()
  const file = join(dir, 'a.backup')
  const exported = await runCli(['export', '--db', a.db, file])
  t.equal(exported.code, 0, `export from a directory no node runs on (${exported.stderr.trim()})`)
  const a1 = await startNode(t, [], { db: a.db })
  const copy = join(dir, 'copy')
  const imported = await runCli(['import', file, '--db', copy, '--new-id'])
  t.equal(imported.code, 0, `import --new-id (${imported.stderr.trim()})`)
  const c = await startNode(t, ['--peer', `127.0.0.1:${a1.port}`], { db: copy })
  t.notEqual(c.id, a.id, 'a new id')
  t.ok(await has(c.http, 'x', 'from-a'), 'the backup\'s data')
  const mine = await put(c.http, 'y', 'from-c')
  t.equal(mine.source, c.id, 'its writes are under its new id')
  await put(a1.http, 'z', 'from-a-later')
  t.ok(await until(async () => await has(a1.http, 'y', 'from-c') && await has(c.http, 'z', 'from-a-later')), 'both ways')
  const status = (await http(a1.http, 'GET', '/status')).body as { clock: Record<string, number> }
  t.deepEqual(Object.keys(status.clock).sort(), [a.id, c.id].sort(), 'the original sees two writers')
})

test('import refuses a truncated or altered backup and a non-empty target, writing nothing', async (t) => {
  const dir = await tempDir(t)
  const a = await startNode(t)
  for (let i = 0; i < 20; i++) await put(a.http, `key-${i}`, { i, text: 'x'.repeat(50) })
  const file = join(dir, 'a.backup')
  t.equal((await runCli(['export', '--node', a.http, file])).code, 0, 'an export')
  const again = await runCli(['export', '--node', a.http, file])
  t.ok(again.code === 2 && again.stderr.includes('[SCUTTLEDB_USAGE]'), 'export never overwrites a file')
  const bytes = await readFile(file)

  const cut = join(dir, 'cut.backup')
  await writeFile(cut, bytes.subarray(0, bytes.length - 20))
  const truncated = await runCli(['import', cut, '--db', join(dir, 'r1')])
  t.ok(truncated.code === 1 && truncated.stderr.includes('[SCUTTLEDB_BACKUP_TRUNCATED]'), `a truncated file: SCUTTLEDB_BACKUP_TRUNCATED (${truncated.stderr.trim()})`)
  t.equal(await stat(join(dir, 'r1')).then(() => true, () => false), false, 'no database was made')

  const altered = join(dir, 'altered.backup')
  const copy = Buffer.from(bytes)
  copy[Math.floor(copy.length / 2)] ^= 0xff
  await writeFile(altered, copy)
  const corrupt = await runCli(['import', altered, '--db', join(dir, 'r2')])
  t.ok(corrupt.code === 1 && corrupt.stderr.includes('[SCUTTLEDB_BACKUP_CORRUPT]'), `an altered byte: SCUTTLEDB_BACKUP_CORRUPT (${corrupt.stderr.trim()})`)

  const notBackup = await runCli(['import', join(dir, 'cut.backup'), '--db', a.db])
  t.ok(notBackup.code === 1 && notBackup.stderr.includes('[SCUTTLEDB_TARGET_NOT_EMPTY]'), 'a non-empty target is refused (SCUTTLEDB_TARGET_NOT_EMPTY)')
  const handle = await open(join(dir, 'junk'), 'w')
  await handle.write('not a backup')
  await handle.close()
  const junk = await runCli(['import', join(dir, 'junk'), '--db', join(dir, 'r3')])
  t.ok(junk.code === 1 && junk.stderr.includes('[SCUTTLEDB_BACKUP_INVALID]'), 'a file that is no backup: SCUTTLEDB_BACKUP_INVALID')

  const good = await runCli(['import', file, '--db', join(dir, 'r4')])
  t.equal(good.code, 0, 'the whole file imports')
  const listed = await runCli(['ls', '--db', join(dir, 'r4')])
  t.equal(listed.stdout.trim().split('\n').length, 20, 'with every key')
  await a.stop()
  const latest = await startNode(t, ['--accept-restore'], { db: join(dir, 'r4') })
  t.equal((await http(latest.http, 'PUT', '/kv/now', 1)).status, 200, 'serve --accept-restore takes writes without a peer')
})

test('a backup taken while writes stream in restores a database whose every key reads back', async (t) => {
  const dir = await tempDir(t)
  const a = await startNode(t)
  for (let i = 0; i < 50; i++) await put(a.http, `key-${i}`, { round: 0, pad: 'p'.repeat(2000) })
  let writing = true
  let rounds = 0
  const writer = (async () => {
    // Overwrites move each key's pointer to a new log entry and delete the old one: a torn copy would dangle.
    while (writing) {
      rounds++
      await Promise.all(Array.from({ length: 10 }, async (_, i) => await put(a.http, `key-${(rounds * 10 + i) % 50}`, { round: rounds, pad: 'p'.repeat(2000) })))
    }
  })()
  const file = join(dir, 'live.backup')
  const exported = await runCli(['export', '--node', a.http, file])
  writing = false
  await writer
  t.equal(exported.code, 0, `exported while ${rounds} rounds of writes ran (${exported.stderr.trim()})`)
  const restored = join(dir, 'restored')
  t.equal((await runCli(['import', file, '--db', restored])).code, 0, 'imported')
  const dump = await runCli(['dump', '--db', restored])
  t.equal(dump.code, 0, `dump reads every key (${dump.stderr.trim()})`)
  const entries = dump.stdout.trim().split('\n').map((l) => JSON.parse(l) as { key: string, value: { round: number } })
  t.equal(entries.length, 50, 'all 50 keys, each with a value')
  t.ok(entries.every((e) => typeof e.value.round === 'number'), 'every value is whole')
})
