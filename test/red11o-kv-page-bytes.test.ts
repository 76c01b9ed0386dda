import test from 'tape'
import { http, startNode } from './fixtures/net-helpers.js'

// GET /kv (and /changes) bound a page by count only (limit up to 1000), never by bytes: a page is
// built whole in memory (the values, then one JSON string of them). A few concurrent full pages of
// large values exhaust the heap and kill the node, a crash any reader (a read token) can cause.
// Reproduced here with a 192 MiB heap and 100 values of 900 KB (about 90 MB): 8 concurrent
// `GET /kv?limit=1000` end with FATAL ERROR: Reached heap limit (SIGABRT). With the default heap
// (about 4 GiB) 1000 values of 500 KB and 4 concurrent pages do it. Now a page also ends once its
// items' JSON reaches 4 MiB (docs/cli.md), with `next` set, and paging still lists every key.
test('serve: concurrent full pages of large values do not exhaust the node\'s memory', async (t) => {
  const saved = process.env.NODE_OPTIONS
  process.env.NODE_OPTIONS = '--max-old-space-size=192'
  const node = await startNode(t).finally(() => {
    if (saved === undefined) delete process.env.NODE_OPTIONS
    else process.env.NODE_OPTIONS = saved
  })
  for (let i = 0; i < 100; i++) {
    const res = await http(node.http, 'PUT', `/kv/k${i}`, 'v'.repeat(900_000) + String(i))
    if (res.status !== 200) t.fail(`PUT k${i}: ${res.status}`)
  }
  const pages = await Promise.allSettled(Array.from({ length: 8 }, async () => {
    const res = await fetch(`${node.http}/kv?limit=1000`)
    const body = JSON.parse(await res.text()) as { items: unknown[], next: string | null }
    return `${res.status} ${body.items.length}`
  }))
  t.deepEqual(pages.map((p) => p.status), Array(8).fill('fulfilled'), 'every page was answered')
  const seen: string[] = []
  let after: string | null = null
  let short = 0
  for (let page = 0; page < 200; page++) {
    const res = await fetch(`${node.http}/kv?limit=1000${after === null ? '' : `&after=${encodeURIComponent(after)}`}`)
    const body = JSON.parse(await res.text()) as { items: Array<{ key: string }>, next: string | null }
    seen.push(...body.items.map((item) => item.key))
    if (body.next === null) break
    short++
    after = body.next
  }
  t.ok(short > 0, `the listing came in pages shorter than limit (${short + 1} pages)`)
  t.deepEqual([...new Set(seen)].sort(), Array.from({ length: 100 }, (_, i) => `k${i}`).sort(), 'paging by next lists every key once')
  t.equal(seen.length, 100, 'and none twice')
  t.equal(node.child.signalCode, null, `the node did not die (${String(node.child.signalCode)})`)
  t.equal(await node.stop(), 0, 'SIGTERM exits 0')
})
