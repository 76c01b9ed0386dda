import test from 'tape'
import { until } from './helpers.js'
import { http, startNode } from './fixtures/net-helpers.js'

/** Parse Prometheus text: `name{labels}` to value. */
function samples (text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    out.set(line.slice(0, space), Number(line.slice(space + 1)))
  }
  return out
}

test('GET /metrics reports commits, updates by outcome, streams, peers by state and the database size', async (t) => {
  const a = await startNode(t)
  const b = await startNode(t, ['--peer', `127.0.0.1:${a.port}`])
  await http(a.http, 'PUT', '/kv/one', 1)
  await http(a.http, 'PUT', '/kv/two', 2)
  t.ok(await until(async () => (await http(b.http, 'GET', '/kv/two')).status === 200), 'b has the writes')
  const metricsOf = async (base: string): Promise<Map<string, number>> => {
    const res = await fetch(`${base}/metrics`)
    t.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8', 'the Prometheus text format')
    return samples(await res.text())
  }
  t.ok(await until(async () => (await metricsOf(b.http)).get('scuttledb_peers{state="synced"}') === 1), 'b counts its peer as synced')
  const m = await metricsOf(b.http)
  t.ok((m.get('scuttledb_updates_total{outcome="committed"}') ?? 0) >= 2, 'committed updates')
  t.equal(m.get('scuttledb_updates_total{outcome="rejected"}'), 0, 'no rejected ones')
  t.ok((m.get('scuttledb_commits_total') ?? 0) >= 1, 'commits')
  t.equal(m.get('scuttledb_streams'), 1, 'one replication stream')
  t.equal(m.get('scuttledb_peers{state="disconnected"}'), 0, 'states without peers are 0, not missing')
  t.ok([...m.keys()].some((k) => k.startsWith('scuttledb_peer_updates_received_total{peer="127.0.0.1:')), 'updates received per peer')
  t.ok((m.get('scuttledb_database_bytes') ?? 0) > 0, 'the database size')
  t.equal(m.get('scuttledb_sources'), 1, 'one writer in the clock')
  const lag = await metricsOf(a.http)
  const behind = [...lag].filter(([k]) => k.startsWith('scuttledb_peer_behind_sources{peer='))
  t.ok(behind.length === 1 && behind[0][1] === 0, 'a reports its synced peer 0 sources behind')
  t.ok([...lag].some(([k, v]) => k.startsWith('scuttledb_peer_lag_seconds{peer=') && v === 0), 'and 0 s of lag')
})

test('GET /metrics has a commit latency histogram: cumulative buckets, +Inf equal to the count of commits', async (t) => {
  const a = await startNode(t)
  for (let i = 0; i < 3; i++) await http(a.http, 'PUT', `/kv/k${i}`, i)
  const text = await (await fetch(`${a.http}/metrics`)).text()
  t.ok(text.includes('# TYPE scuttledb_commit_duration_seconds histogram'), 'typed as a histogram')
  const m = samples(text)
  const buckets = [...m].filter(([k]) => k.startsWith('scuttledb_commit_duration_seconds_bucket{'))
  t.ok(buckets.length > 2 && buckets[buckets.length - 1][0] === 'scuttledb_commit_duration_seconds_bucket{le="+Inf"}', 'buckets, ending with +Inf')
  t.ok(buckets.every(([, v], i) => i === 0 || v >= buckets[i - 1][1]), 'cumulative')
  const count = m.get('scuttledb_commit_duration_seconds_count') ?? 0
  t.ok(count >= 3, `one observation per commit (${count})`)
  t.equal(count, m.get('scuttledb_commits_total'), 'as many as commits')
  t.equal(buckets[buckets.length - 1][1], count, '+Inf is the count')
  t.ok((m.get('scuttledb_commit_duration_seconds_sum') ?? -1) >= 0, 'a sum')
})
