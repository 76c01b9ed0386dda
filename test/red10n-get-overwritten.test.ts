import test from 'tape'
import { http, runCli, startNode } from './fixtures/net-helpers.js'

// A key that holds a value the whole time must never read as absent. The Model read
// the key's record, then its update from the log; a concurrent overwrite deletes the
// superseded update from the log in between, and GET /kv/:key answered 404.
test('GET /kv/:key and scuttledb get never answer "no key" for a key being overwritten', async (t) => {
  const a = await startNode(t)
  t.equal((await http(a.http, 'PUT', '/kv/hot', 0)).status, 200, 'hot is set')
  let stop = false
  let writes = 0
  const writers = [0, 1, 2, 3].map(async () => {
    while (!stop) {
      const res = await http(a.http, 'PUT', '/kv/hot', ++writes)
      if (res.status !== 200) throw new Error(`PUT: ${res.status}`)
    }
  })
  let absent = 0
  const reads = 2000
  for (let i = 0; i < reads; i++) if ((await http(a.http, 'GET', '/kv/hot')).status === 404) absent++
  const cli: number[] = []
  for (let i = 0; i < 5; i++) cli.push((await runCli(['get', 'hot', '--node', a.http])).code)
  stop = true
  await Promise.all(writers)
  t.ok(writes > reads / 10, `the key was overwritten meanwhile (${writes} writes)`)
  t.equal(absent, 0, `no GET of ${reads} answered 404`)
  t.same(cli, [0, 0, 0, 0, 0], 'scuttledb get exits 0 every time')
})
