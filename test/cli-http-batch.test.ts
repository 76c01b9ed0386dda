import net from 'node:net'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'tape'
import { tempDir, until } from './helpers.js'
import { http, runCli, startNode } from './fixtures/net-helpers.js'

/** `name{labels}` -> value of a Prometheus text page. */
async function metrics (base: string): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  for (const line of (await (await fetch(`${base}/metrics`)).text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    out.set(line.slice(0, space), Number(line.slice(space + 1)))
  }
  return out
}

test('POST /batch commits puts and deletes atomically: all or none, one commit', async (t) => {
  const a = await startNode(t)
  await http(a.http, 'PUT', '/kv/gone', 1)
  const before = (await metrics(a.http)).get('scuttledb_commits_total') ?? 0
  const ok = await http(a.http, 'POST', '/batch', [{ type: 'put', key: 'x', value: 1 }, { type: 'put', key: 'y', value: [2] }, { type: 'del', key: 'gone' }])
  t.deepEqual(ok, { status: 200, body: { count: 3 } }, 'the batch is committed')
  t.equal((await metrics(a.http)).get('scuttledb_commits_total'), before + 1, 'in one commit')
  t.deepEqual((await http(a.http, 'GET', '/kv/y')).body, [2], 'a put is there')
  t.equal((await http(a.http, 'GET', '/kv/gone')).status, 404, 'the delete is there')
  const bad = await http(a.http, 'POST', '/batch', [{ type: 'put', key: 'z', value: 1 }, { type: 'merge', key: 'w' }])
  t.equal(bad.status, 400, 'a batch with a bad operation is a 400')
  t.equal((await http(a.http, 'GET', '/kv/z')).status, 404, 'and nothing of it is stored')
  const notArray = await http(a.http, 'POST', '/batch', { type: 'put', key: 'z', value: 1 })
  t.equal(notArray.status, 400, 'a body that is not an array is a 400')
})

test('load against a running node is one atomic batch too', async (t) => {
  const a = await startNode(t)
  const file = join(await tempDir(t), 'in.jsonl')
  await writeFile(file, Array.from({ length: 50 }, (_, i) => JSON.stringify({ key: `k${i}`, value: i })).join('\n') + '\n')
  const before = (await metrics(a.http)).get('scuttledb_commits_total') ?? 0
  const loaded = await runCli(['load', file, '--node', a.http])
  t.equal(loaded.code, 0, 'load exits 0')
  t.equal(loaded.stdout, 'loaded 50 keys\n', 'and says how many')
  t.equal((await metrics(a.http)).get('scuttledb_commits_total'), before + 1, 'the node committed them in one batch')
  t.equal((await http(a.http, 'GET', '/kv/k49')).body, 49, 'every key is there')
})

test('GET /metrics counts rejected input by code', async (t) => {
  const a = await startNode(t)
  const socket = net.connect(a.port, '127.0.0.1')
  socket.on('error', () => {})
  // An update before any header: the node refuses it with SCUTTLEDB_HEADER_EXPECTED.
  const body = Buffer.from('93' + '92a16b01' + 'cb427a233428f7d000' + 'a150', 'hex')
  const head = Buffer.alloc(4)
  head.writeUInt32BE(body.length)
  socket.write(Buffer.concat([head, body]))
  t.ok(await until(async () => (await metrics(a.http)).get('scuttledb_rejected_total{code="SCUTTLEDB_HEADER_EXPECTED"}') === 1),
    'scuttledb_rejected_total{code="SCUTTLEDB_HEADER_EXPECTED"} is 1')
  socket.destroy()
})
