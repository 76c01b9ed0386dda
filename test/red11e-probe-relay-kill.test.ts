import test from 'tape'
import { freePort, http, startNode, type NodeProcess } from './fixtures/net-helpers.js'
import { until } from './helpers.js'

async function all (node: NodeProcess): Promise<string> {
  const items: unknown[] = []
  let after: string | null = null
  do {
    const res = await http(node.http, 'GET', `/kv?limit=1000${after === null ? '' : `&after=${encodeURIComponent(after)}`}`)
    const body = res.body as { items: unknown[], next: string | null }
    items.push(...body.items)
    after = body.next
  } while (after !== null)
  return JSON.stringify(items)
}

test('probe: A - B - C with B SIGKILLed midway and restarted; writes on both ends converge', async (t) => {
  const a = await startNode(t, ['--max-peers', '0'])
  const pb = await freePort()
  let b = await startNode(t, ['--port', String(pb), '--peer', `127.0.0.1:${a.port}`, '--max-peers', '0'])
  const c = await startNode(t, ['--peer', `127.0.0.1:${pb}`, '--max-peers', '0'])
  const writes: Array<Promise<unknown>> = []
  for (let i = 0; i < 200; i++) {
    writes.push(http(a.http, 'PUT', `/kv/a${i}`, i))
    writes.push(http(c.http, 'PUT', `/kv/c${i}`, i))
    if (i === 100) {
      await Promise.all(writes)
      await b.stop('SIGKILL')
    }
  }
  await Promise.all(writes)
  // a batch while B is down
  await http(a.http, 'POST', '/batch', Array.from({ length: 500 }, (_, i) => ({ type: 'put', key: `ab${i}`, value: i })))
  await http(c.http, 'POST', '/batch', Array.from({ length: 500 }, (_, i) => ({ type: 'put', key: `cb${i}`, value: i })))
  b = await startNode(t, ['--port', String(pb), '--peer', `127.0.0.1:${a.port}`, '--max-peers', '0'], { db: b.db })
  for (let i = 0; i < 100; i++) {
    writes.push(http(a.http, 'PUT', `/kv/x${i}`, i))
    writes.push(http(c.http, 'PUT', `/kv/x${i}`, -i))
    writes.push(http(b.http, 'PUT', `/kv/y${i}`, i))
  }
  await Promise.all(writes)
  let sa = ''; let sb = ''; let sc = ''
  const ok = await until(async () => {
    ;[sa, sb, sc] = await Promise.all([all(a), all(b), all(c)])
    return sa === sb && sb === sc
  }, 20000)
  t.ok(ok, 'all three hold the same data')
  if (!ok) t.comment(`a ${sa.length} b ${sb.length} c ${sc.length}`)
  const items = JSON.parse(sa) as unknown[]
  t.equal(items.length, 1600, `a holds ${items.length} keys`)
})
