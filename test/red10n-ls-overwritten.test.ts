import test from 'tape'
import { until } from './helpers.js'
import { http, runCli, startNode } from './fixtures/net-helpers.js'

const odd = ['', '.', '..', '/', '%', '%2F', 'a b', '?x', '#y', 'é', '日本', '😀', 'k'.repeat(3000)]
const keys = [...odd, ...Array.from({ length: 2000 }, (_, i) => `k${String(i).padStart(5, '0')}`)]
const batch = (v: number): unknown[] => keys.map((key) => ({ type: 'put', key, value: v }))

// Every key here holds a value throughout; writes only overwrite them (over HTTP on b,
// and on a, replicating into b). A listing must name each exactly once. The Model read
// a page of key records, then their values from the log; an overwrite committed in
// between had deleted the superseded updates, and those keys were left out.
test('scuttledb ls and GET /kv paging list every key exactly once while they are overwritten, locally and by a peer', async (t) => {
  const a = await startNode(t)
  const b = await startNode(t, ['--peer', `127.0.0.1:${a.port}`])
  t.equal((await http(a.http, 'POST', '/batch', batch(0))).status, 200, 'a holds the keys')
  t.ok(await until(async () => (await http(b.http, 'GET', '/kv/k01999')).status === 200, 20000), 'b has them')
  let stop = false
  let rounds = 0
  const writer = async (base: string): Promise<void> => {
    while (!stop) {
      const res = await http(base, 'POST', '/batch', batch(++rounds))
      if (res.status !== 200) throw new Error(`POST /batch: ${res.status}`)
    }
  }
  const writers = [writer(a.http), writer(b.http)]
  const problems: string[] = []
  const check = (what: string, listed: string[]): void => {
    const set = new Set(listed)
    const missing = keys.filter((k) => !set.has(k))
    if (missing.length > 0 || set.size !== listed.length || listed.length !== keys.length) {
      problems.push(`${what}: ${listed.length} listed, ${set.size} distinct, ${missing.length} missing (${missing.slice(0, 3).map((k) => JSON.stringify(k.slice(0, 10))).join(', ')})`)
    }
  }
  for (let i = 0; i < 5; i++) {
    const { code, stdout, stderr } = await runCli(['ls', '--node', b.http])
    if (code !== 0) problems.push(`ls exited ${code}: ${stderr}`)
    check(`ls #${i}`, stdout.split('\n').filter((l) => l !== '').map((l) => l.slice(0, l.lastIndexOf('\t'))))
  }
  for (const limit of [7, 1000]) {
    const listed: string[] = []
    let after: string | null = null
    for (;;) {
      const q = new URLSearchParams({ limit: String(limit) })
      if (after !== null) q.set('after', after)
      const res = await http(b.http, 'GET', `/kv?${q.toString()}`)
      const page = res.body as { items: Array<{ key: string }>, next: string | null }
      listed.push(...page.items.map((item) => item.key))
      if (page.next === null) break
      after = page.next
    }
    check(`GET /kv limit=${limit}`, listed)
  }
  stop = true
  await Promise.all(writers)
  t.ok(rounds > 2, `the keys were overwritten meanwhile (${rounds} batches)`)
  t.same(problems, [], 'every listing named every key exactly once')
})
