import test from 'tape'
import nodeHttp from 'node:http'
import { http, runCli, startNode } from './fixtures/net-helpers.js'

// Promise (docs/cli.md, HTTP API): "Keys are the rest of the path, percent-decoded".
// The keys "." and ".." are stored (POST /batch, load, the library) and listed by
// GET /kv, but the path /kv/.. was normalised as a URL (dot segments removed, also
// when written %2E%2E) to "/", and /kv/. to "/kv/": `scuttledb get .. --node` said
// 'No key ".."' for a key that `ls` lists, and `set`/`del` of them failed.

test('the keys "." and ".." can be read, written and deleted through the HTTP API and the client commands', async (t) => {
  const node = await startNode(t)
  t.teardown(async () => { await node.stop() })
  const batch = await http(node.http, 'POST', '/batch', [{ type: 'put', key: '..', value: 'two dots' }, { type: 'put', key: '.', value: 'one dot' }])
  t.equal(batch.status, 200, 'POST /batch stores them')
  const listed = await http(node.http, 'GET', '/kv')
  t.deepEqual((listed.body as { items: unknown[] }).items, [{ key: '.', value: 'one dot' }, { key: '..', value: 'two dots' }], 'GET /kv lists them')
  const got = await runCli(['get', '..', '--node', node.http])
  t.deepEqual([got.code, got.stdout.trim(), got.stderr.trim()], [0, '"two dots"', ''], 'get .. --node prints its value')
  const gotOne = await runCli(['get', '.', '--node', node.http])
  t.deepEqual([gotOne.code, gotOne.stdout.trim(), gotOne.stderr.trim()], [0, '"one dot"', ''], 'get . --node prints its value')
  const set = await runCli(['set', '..', 'changed', '--node', node.http])
  t.deepEqual([set.code, set.stderr.trim()], [0, ''], 'set .. --node works')
  const del = await runCli(['del', '.', '--node', node.http])
  t.deepEqual([del.code, del.stderr.trim()], [0, ''], 'del . --node works')
  const after = await http(node.http, 'GET', '/kv')
  t.deepEqual((after.body as { items: unknown[] }).items, [{ key: '..', value: 'changed' }], 'and the store holds what they did')
  // node:http with a path sends it as given (fetch, like a URL, would drop the dot segments itself).
  const encoded = await new Promise((resolve, reject) => {
    nodeHttp.get(node.http, { path: '/kv/%2E%2E' }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (s: string) => { text += s }).on('end', () => { resolve([res.statusCode, JSON.parse(text)]) })
    }).on('error', reject)
  })
  t.deepEqual(encoded, [200, 'changed'], 'GET /kv/%2E%2E is the key ".." too')
})
