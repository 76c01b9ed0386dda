import test from 'tape'
import { runCli, startNode } from './fixtures/net-helpers.js'

// docs/cli.md: "a longer URL (a 100,000-character key) is 414, larger headers 431";
// SCUTTLEDB_URL_TOO_LONG is "the request line is over the 16 KiB header limit". A key of
// 17,000 or 20,000 characters made a request line over the limit, yet the node answered
// 431 SCUTTLEDB_HEADERS_TOO_LARGE: the request arrived in one packet with its headers, and
// the node took any line break in that packet as a sign that the overflow was past the URL.
test('a request line over 16 KiB is 414 SCUTTLEDB_URL_TOO_LONG, however the request arrives', async (t) => {
  const a = await startNode(t)
  for (const n of [17_000, 20_000, 100_000]) {
    const key = 'k'.repeat(n)
    const res = await fetch(`${a.http}/kv/${key}`)
    const body = await res.json() as { error: { code: string } }
    t.same([res.status, body.error.code], [414, 'SCUTTLEDB_URL_TOO_LONG'], `GET of a ${n}-character key: 414`)
    const get = await runCli(['get', key, '--node', a.http])
    t.ok(get.code === 1 && get.stderr.trimEnd().endsWith('[SCUTTLEDB_URL_TOO_LONG]'), `scuttledb get of it exits 1 with SCUTTLEDB_URL_TOO_LONG (${get.code}: ${get.stderr.slice(-60).trim()})`)
  }
  const ls = await runCli(['ls', '--after', 'k'.repeat(20_000), '--node', a.http])
  t.ok(ls.code === 1 && ls.stderr.trimEnd().endsWith('[SCUTTLEDB_URL_TOO_LONG]'), `ls --after a 20,000-character key: SCUTTLEDB_URL_TOO_LONG (${ls.code}: ${ls.stderr.slice(-60).trim()})`)
  const headers = await fetch(`${a.http}/status`, { headers: { 'x-big': 'v'.repeat(20_000) } })
  t.equal(headers.status, 431, 'large headers are still 431')
})
