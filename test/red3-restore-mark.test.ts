import { join } from 'node:path'
import test from 'tape'
import { tempDir, until } from './helpers.js'
import { http, runCli, startNode } from './fixtures/net-helpers.js'

// A restore refuses local writes until it has synced with a peer, so that its
// own writes made after the backup come back before its clock moves past them.
// Any peer's sync lifts that, even one that never had those writes (a new node,
// a browser): the restore then writes, its clock for its own id passes the lost
// writes, and no peer ever sends them again.

async function has (base: string, key: string, value: unknown): Promise<boolean> {
  const res = await http(base, 'GET', `/kv/${key}`)
  return res.status === 200 && JSON.stringify(res.body) === JSON.stringify(value)
}

async function status (base: string): Promise<{ restoring: boolean, synced: boolean }> {
  return (await http(base, 'GET', '/status')).body as { restoring: boolean, synced: boolean }
}

test('red3: a restore that first syncs with a peer lacking its lost writes still gets them back from the peer that has them', async (t) => {
  const dir = await tempDir(t)
  const p = await startNode(t, ['--max-peers', '0'])
  const a = await startNode(t, ['--max-peers', '0', '--peer', `127.0.0.1:${p.port}`])
  t.equal((await http(a.http, 'PUT', '/kv/k', 'v1')).status, 200, 'a writes k = v1')
  const file = join(dir, 'a.backup')
  t.equal((await runCli(['export', '--node', a.http, file])).code, 0, 'a backed up')
  t.equal((await http(a.http, 'PUT', '/kv/k', 'v2')).status, 200, 'a writes k = v2 after the backup')
  t.ok(await until(async () => await has(p.http, 'k', 'v2')), 'p has k = v2')
  await a.stop('SIGKILL')

  const restored = join(dir, 'restored')
  t.equal((await runCli(['import', file, '--db', restored])).code, 0, 'a restored with its id')
  // A new, empty node: the first peer the restore syncs with.
  const e = await startNode(t, ['--max-peers', '0'])
  const r1 = await startNode(t, ['--max-peers', '0', '--peer', `127.0.0.1:${e.port}`], { db: restored })
  t.ok(await until(async () => (await status(r1.http)).synced), 'the restore synced with e')
  t.equal((await status(r1.http)).restoring, true, 'e holds none of its writes: it is still restoring')
  t.equal((await http(r1.http, 'PUT', '/kv/other', 1)).status, 503, 'and still refuses local writes')
  await r1.stop()

  const r2 = await startNode(t, ['--max-peers', '0', '--peer', `127.0.0.1:${p.port}`], { db: restored })
  t.ok(await until(async () => (await status(r2.http)).synced), 'the restore synced with p')
  t.ok(await until(async () => !(await status(r2.http)).restoring), 'p holds writes of its id: the restore accepts writes again')
  t.ok(await until(async () => await has(r2.http, 'k', 'v2')), 'the restore has k = v2, its own write it lost, as p does')
  t.ok(await has(p.http, 'k', 'v2'), 'p still has k = v2')
})
