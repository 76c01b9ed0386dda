import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'tape'
import { tempDir, until } from './helpers.js'
import { ProgressView } from '../lib/cli/progress.js'
import { MAIN, http, runCli, startNode } from './fixtures/net-helpers.js'

/** Read Server-Sent Events from a fetch response. */
function events (body: ReadableStream<Uint8Array>): { text: () => string, next: () => Promise<Record<string, unknown>> } {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  let seen = ''
  return {
    text: () => seen,
    next: async () => {
      for (;;) {
        const match = /^data: (.*)$/m.exec(buffer)
        if (match !== null) {
          buffer = buffer.slice(match.index + match[0].length)
          return JSON.parse(match[1]) as Record<string, unknown>
        }
        const { value, done } = await reader.read()
        if (done) throw new Error('the event stream ended')
        const text = decoder.decode(value, { stream: true })
        buffer += text
        seen += text
      }
    }
  }
}

test('HTTP API: PUT, GET, DELETE, paged GET /kv, and coded errors', async (t) => {
  const node = await startNode(t)
  const key = encodeURIComponent('a/b ü')
  const put = await http(node.http, 'PUT', `/kv/${key}`, { hello: ['world'] })
  t.equal(put.status, 200, 'PUT answers 200 once durable')
  t.equal((put.body as { source: string }).source, node.id, 'with the update\'s source (this node)')
  t.deepEqual((await http(node.http, 'GET', `/kv/${key}`)).body, { hello: ['world'] }, 'GET returns the JSON value (any key, percent-encoded)')
  t.equal((await http(node.http, 'DELETE', `/kv/${key}`)).status, 200, 'DELETE answers 200')
  const gone = await http(node.http, 'GET', `/kv/${key}`)
  t.deepEqual([gone.status, (gone.body as { error: { code: string } }).error.code], [404, 'SCUTTLEDB_NOT_FOUND'], 'a deleted key is 404 SCUTTLEDB_NOT_FOUND')
  const json = { 'content-type': 'application/json' }
  const badJson = await fetch(`${node.http}/kv/x`, { method: 'PUT', headers: json, body: '{nope' })
  t.equal(badJson.status, 400, 'a body that is not JSON is 400')
  t.equal(((await badJson.json()) as { error: { code: string } }).error.code, 'SCUTTLEDB_BAD_REQUEST', 'coded SCUTTLEDB_BAD_REQUEST')
  t.equal((await fetch(`${node.http}/kv/x`, { method: 'PUT', headers: json, body: `"${'x'.repeat(1024 * 1024)}"` })).status, 413, 'a body over 1 MiB is 413')
  t.equal((await http(node.http, 'POST', '/kv/x')).status, 405, 'a wrong method is 405')
  t.equal((await http(node.http, 'GET', '/nowhere')).status, 404, 'an unknown route is 404')
  t.equal((await http(node.http, 'GET', '/kv?limit=0')).status, 400, 'a bad limit is 400')
  for (const k of ['k1', 'k2', 'k3', 'k4', 'k5']) await http(node.http, 'PUT', `/kv/${k}`, k)
  const first = (await http(node.http, 'GET', '/kv?limit=2')).body as { items: Array<{ key: string }>, next: string | null }
  t.deepEqual(first.items.map((i) => i.key), ['k1', 'k2'], 'the first page')
  const rest = (await http(node.http, 'GET', `/kv?limit=10&after=${first.next ?? ''}`)).body as { items: Array<{ key: string, value: unknown }>, next: string | null }
  t.deepEqual(rest.items, [{ key: 'k3', value: 'k3' }, { key: 'k4', value: 'k4' }, { key: 'k5', value: 'k5' }], 'the next page starts after the cursor')
  t.equal(rest.next, null, 'and is the last')
  t.equal(await node.stop(), 0, 'exits 0')
})

test('GET /events streams local and replicated updates as Server-Sent Events', async (t) => {
  const a = await startNode(t)
  const b = await startNode(t, ['--peer', `127.0.0.1:${a.port}`])
  const abort = new AbortController()
  t.teardown(() => { abort.abort() })
  const res = await fetch(`${a.http}/events`, { signal: abort.signal })
  t.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8', 'an event stream')
  const stream = events(res.body as ReadableStream<Uint8Array>)
  await http(a.http, 'PUT', '/kv/local', 1)
  t.deepEqual((({ key, value, source }) => ({ key, value, source }))(await stream.next()), { key: 'local', value: 1, source: a.id }, 'a local write is an event')
  t.ok(stream.text().startsWith(': connected'), 'the stream opened with a comment')
  await http(b.http, 'PUT', '/kv/remote', 'from b')
  t.deepEqual((({ key, value, source }) => ({ key, value, source }))(await stream.next()), { key: 'remote', value: 'from b', source: b.id }, 'a replicated write is an event')
  await http(a.http, 'DELETE', '/kv/local')
  t.deepEqual((({ key, value }) => ({ key, value }))(await stream.next()), { key: 'local', value: null }, 'a delete is an event with a null value')
  abort.abort()
  t.deepEqual(await Promise.all([b.stop(), a.stop()]), [0, 0], 'both exit 0 (an open event stream does not hold the shutdown)')
})

test('client commands against a live node: set, get, del, ls, dump, load, status, watch', async (t) => {
  const node = await startNode(t)
  const at = ['--node', node.http]
  t.equal((await runCli(['set', 'n', '42', ...at])).code, 0, 'set exits 0')
  t.equal((await runCli(['set', 's', 'plain text', ...at])).code, 0, 'set takes a non-JSON value as a string')
  await runCli(['set', 'r', '42', '--raw', ...at])
  t.equal((await runCli(['get', 'n', ...at])).stdout, '42\n', 'get prints JSON')
  t.equal((await runCli(['get', 's', ...at])).stdout, '"plain text"\n', 'the string came back')
  t.equal((await runCli(['get', 'r', ...at])).stdout, '"42"\n', '--raw stored a string')
  t.equal((await runCli(['del', 'r', ...at])).code, 0, 'del exits 0')
  const missing = await runCli(['get', 'r', ...at])
  t.equal(missing.code, 1, 'get of a missing key exits 1')
  t.ok(missing.stderr.includes('SCUTTLEDB_NOT_FOUND'), 'and names SCUTTLEDB_NOT_FOUND')
  t.equal((await runCli(['ls', ...at])).stdout, 'n\t42\ns\t"plain text"\n', 'ls prints key and JSON value lines')
  t.equal((await runCli(['ls', '--after', 'n', '--limit', '1', ...at])).stdout, 's\t"plain text"\n', 'ls pages with --after and --limit')
  const dump = await runCli(['dump', ...at])
  t.equal(dump.stdout, '{"key":"n","value":42}\n{"key":"s","value":"plain text"}\n', 'dump writes JSON lines')

  const dir = await tempDir(t)
  const file = join(dir, 'in.jsonl')
  await writeFile(file, dump.stdout + '{"key":"extra","value":{"x":[1]}}\n\n{"key":"s","value":null}\n')
  const loaded = await runCli(['load', file, ...at])
  t.equal(loaded.code, 0, 'load exits 0')
  t.equal(loaded.stdout, 'loaded 3 keys\n', 'and counts the keys on stdout (two lines wrote s)')
  t.equal((await runCli(['ls', ...at])).stdout, 'extra\t{"x":[1]}\nn\t42\n', 'load set keys and a null value deleted one')
  const viaStdin = await runCli(['load', ...at], '{"key":"stdin","value":true}\n')
  t.equal(viaStdin.code, 0, 'load reads stdin')
  t.equal((await runCli(['load', ...at], 'not json\n')).code, 1, 'a malformed line fails the load')

  const status = JSON.parse((await runCli(['status', ...at])).stdout) as { id: string, clock: Record<string, number> }
  t.equal(status.id, node.id, 'status prints the node id')
  t.ok(status.clock[node.id] > 0, 'and its clock')

  const watch = spawn(process.execPath, [MAIN, 'watch', ...at], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  watch.stdout.setEncoding('utf8').on('data', (s: string) => { out += s })
  watch.stderr.setEncoding('utf8').on('data', (s: string) => { err += s })
  t.ok(await until(() => err.includes('watching')), 'watch says it is watching')
  await runCli(['set', 'watched', '"yes"', ...at])
  t.ok(await until(() => out.includes('\n')), 'watch printed a line')
  t.deepEqual((({ key, value }) => ({ key, value }))(JSON.parse(out.split('\n')[0]) as Record<string, unknown>), { key: 'watched', value: 'yes' }, 'the change as a JSON line')
  watch.kill('SIGINT')
  t.equal((await once(watch, 'exit'))[0], 0, 'watch exits 0 on SIGINT')
  t.equal(await node.stop(), 0, 'the node exits 0')
  const direct = await runCli(['get', 'extra', '--db', node.db])
  t.equal(direct.stdout, '{"x":[1]}\n', 'client commands also open a stopped node\'s directory')
})

test('every command has --help; client errors are coded with exit status 1 or 2', async (t) => {
  for (const command of ['serve', 'get', 'set', 'del', 'ls', 'watch', 'dump', 'load', 'status']) {
    const res = await runCli([command, '--help'])
    t.ok(res.code === 0 && res.stdout.startsWith(`Usage: scuttledb ${command}`), `${command} --help`)
  }
  const top = await runCli(['--help'])
  t.ok(top.code === 0 && top.stdout.includes('Commands:'), 'scuttledb --help lists the commands')
  t.equal((await runCli([])).code, 2, 'no command is a usage error')
  t.equal((await runCli(['frobnicate'])).code, 2, 'an unknown command is a usage error')
  const down = await runCli(['get', 'x', '--node', 'http://127.0.0.1:1'])
  t.ok(down.code === 1 && down.stderr.includes('SCUTTLEDB_NODE_UNREACHABLE'), 'an unreachable node is SCUTTLEDB_NODE_UNREACHABLE')
  const badUrl = await runCli(['get', 'x', '--node', 'ftp://x'])
  t.ok(badUrl.code === 2 && badUrl.stderr.includes('SCUTTLEDB_BAD_ADDRESS'), 'a bad --node is SCUTTLEDB_BAD_ADDRESS')
  t.equal((await runCli(['get', '--db', 'x', '--node', 'y', 'k'])).code, 2, '--db and --node together are a usage error')
  t.equal((await runCli(['get'])).code, 2, 'a missing argument is a usage error')
  const dir = await tempDir(t)
  const watchDb = await runCli(['watch', '--db', join(dir, 'db')])
  t.ok(watchDb.code === 2 && watchDb.stderr.includes('running node'), 'watch on a directory explains it needs a node')
})

test('a first sync of a large history shows progress lines, then a summary', async (t) => {
  const dir = await tempDir(t)
  const db = join(dir, 'big')
  const lines = Array.from({ length: 2500 }, (_, i) => JSON.stringify({ key: `k${String(i).padStart(5, '0')}`, value: i })).join('\n')
  t.equal((await runCli(['load', '--db', db], lines)).code, 0, 'a 2500-key database was loaded directly')
  const a = await startNode(t, [], { db })
  const b = await startNode(t, ['--peer', `127.0.0.1:${a.port}`])
  t.ok(await until(() => /synced with 127\.0\.0\.1:\d+: received 2,500, sent 0/.test(b.log()), 10_000), 'the new node prints a summary of what it received')
  t.ok(/syncing 127\.0\.0\.1:\d+: received [\d,]+, sent 0\n/.test(b.log()), 'and plain progress lines while syncing (stderr is not a terminal)')
  t.ok(/synced with 127\.0\.0\.1:\d+: received 0, sent 2,500/.test(a.log()), 'the serving side prints its summary too')
  t.equal((await http(b.http, 'GET', '/kv/k02499')).body, 2499, 'the last key arrived')
})

test('progress on a terminal is one redrawn bar line; elsewhere plain lines, at most one per interval', (t) => {
  let tty = ''
  const bar = new ProgressView({ write: (s: string) => { tty += s }, isTTY: true, columns: 200 })
  bar.update('peer:1', { sent: 0, received: 1000, syncSent: true, syncReceived: false, behind: { sources: 0, ms: 0 } })
  bar.update('peer:1', { sent: 0, received: 2000, syncSent: true, syncReceived: false, behind: { sources: 0, ms: 0 } })
  t.equal(tty.split('\r\x1b[K').length - 1, 2, 'each report redraws the same line')
  t.ok(/\[ *=+ *\] received 2,000, sent 0$/.test(tty), 'a bar and the counts')
  bar.done('peer:1', { sent: 0, received: 2500, syncSent: true, syncReceived: true, behind: { sources: 0, ms: 0 } })
  t.ok(tty.endsWith('\r\x1b[Ksynced with peer:1: received 2,500, sent 0\n'), 'the bar is replaced by a summary line')
  let plain = ''
  const lines = new ProgressView({ write: (s: string) => { plain += s } }, { interval: 1000 })
  lines.update('p', { sent: 1000, received: 0, syncSent: false, syncReceived: true, behind: { sources: 0, ms: 0 } }, 0)
  lines.update('p', { sent: 2000, received: 0, syncSent: false, syncReceived: true, behind: { sources: 0, ms: 0 } }, 500)
  lines.update('p', { sent: 3000, received: 0, syncSent: false, syncReceived: true, behind: { sources: 0, ms: 0 } }, 1500)
  t.equal(plain, 'syncing p: received 0, sent 1,000\nsyncing p: received 0, sent 3,000\n', 'plain lines, throttled')
  t.end()
})

test('HTTP API: a body over the limit is answered 413, also while the client is still sending it (not a reset)', async (t) => {
  const node = await startNode(t)
  const json = { 'content-type': 'application/json' }
  const statuses: Array<number | string> = []
  for (let i = 0; i < 20; i++) {
    // Declared too large (answered before the body is read), and chunked (found too large while reading).
    const declared = await fetch(`${node.http}/kv/big`, { method: 'PUT', headers: json, body: `"${'x'.repeat(2 * 1024 * 1024)}"` }).then((r) => r.status, (err: Error) => err.message)
    const body = new ReadableStream({ start (c) { c.enqueue(new TextEncoder().encode(`"${'y'.repeat(2 * 1024 * 1024)}"`)); c.close() } })
    const chunked = await fetch(`${node.http}/kv/big`, { method: 'PUT', headers: json, body, duplex: 'half' } as RequestInit).then((r) => r.status, (err: Error) => err.message)
    statuses.push(declared, chunked)
  }
  t.deepEqual([...new Set(statuses)], [413], 'every answer is 413 (40 requests)')
  t.equal(await node.stop(), 0, 'exits 0')
})
