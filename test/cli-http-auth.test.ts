import { chmod, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'tape'
import { tempDir } from './helpers.js'
import { runCli, startNode } from './fixtures/net-helpers.js'

const READ = 'r3ad-only-token-0123456789'
const WRITE = 'wr1te-token-abcdefghijklmnop'

async function tokenFile (t: Parameters<typeof tempDir>[0]): Promise<string> {
  const dir = await tempDir(t)
  const file = join(dir, 'tokens')
  await writeFile(file, `# who may use the HTTP API\nread ${READ}\nread-write ${WRITE}\n`, { mode: 0o600 })
  return file
}

async function call (base: string, method: string, path: string, token?: string, body?: unknown): Promise<[number, string | null]> {
  const headers: Record<string, string> = {}
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await res.text()
  const code = res.status === 200 ? null : (JSON.parse(text) as { error: { code: string } }).error.code
  return [res.status, code]
}

test('a node with --key requires HTTP bearer tokens: read tokens read, read-write tokens write', async (t) => {
  const dir = await tempDir(t)
  const key = join(dir, 'node.key')
  t.equal((await runCli(['keygen', key])).code, 0, 'a key')
  const refused = await runCli(['serve', '--db', join(dir, 'db'), '--port', '0', '--http', '0', '--key', key])
  t.ok(refused.code === 2 && refused.stderr.includes('SCUTTLEDB_USAGE'), 'without a token file (or --http-open) it refuses to start')
  const tokens = await tokenFile(t)
  const node = await startNode(t, ['--key', key, '--http-token-file', tokens])
  t.deepEqual(await call(node.http, 'GET', '/status'), [401, 'SCUTTLEDB_UNAUTHORIZED'], 'no token: 401 SCUTTLEDB_UNAUTHORIZED')
  t.deepEqual(await call(node.http, 'PUT', '/kv/x', undefined, 1), [401, 'SCUTTLEDB_UNAUTHORIZED'], 'a write without a token is refused')
  t.deepEqual(await call(node.http, 'GET', '/kv', 'wrong-token-wrong-token'), [401, 'SCUTTLEDB_UNAUTHORIZED'], 'a wrong token: 401')
  t.deepEqual(await call(node.http, 'GET', '/kv', READ.slice(0, -1)), [401, 'SCUTTLEDB_UNAUTHORIZED'], 'a prefix of a token: 401')
  t.deepEqual(await call(node.http, 'PUT', '/kv/x', READ, 1), [403, 'SCUTTLEDB_FORBIDDEN'], 'a read token may not write: 403 SCUTTLEDB_FORBIDDEN')
  t.deepEqual(await call(node.http, 'DELETE', '/kv/x', READ), [403, 'SCUTTLEDB_FORBIDDEN'], 'nor delete')
  t.deepEqual(await call(node.http, 'PUT', '/kv/x', WRITE, 1), [200, null], 'a read-write token writes')
  t.deepEqual(await call(node.http, 'GET', '/kv/x', READ), [200, null], 'a read token reads')
  t.deepEqual(await call(node.http, 'GET', '/changes', READ), [200, null], 'the changes feed')
  t.deepEqual(await call(node.http, 'GET', '/metrics', READ), [200, null], 'and the metrics')
  const events = await fetch(`${node.http}/events`)
  t.equal(events.status, 401, 'the event stream needs a token too')
  await events.body?.cancel()
  const sse = await fetch(`${node.http}/events?access_token=${READ}`)
  t.equal(sse.status, 200, 'a browser\'s EventSource, which cannot set headers, may pass ?access_token=')
  await sse.body?.cancel()
  t.deepEqual(await call(node.http, 'PUT', `/kv/y?access_token=${READ}`, undefined, 1), [403, 'SCUTTLEDB_FORBIDDEN'], 'with the token\'s scope')
  const www = await fetch(`${node.http}/kv`)
  t.equal(www.headers.get('www-authenticate'), 'Bearer realm="scuttledb"', '401 says how to authenticate')
  await www.body?.cancel()
})

test('a node without --key is open unless given tokens; --http-open opens a signing node', async (t) => {
  const open = await startNode(t)
  t.deepEqual(await call(open.http, 'PUT', '/kv/x', undefined, 1), [200, null], 'no key, no token file: open')
  const locked = await startNode(t, ['--http-token-file', await tokenFile(t)])
  t.deepEqual(await call(locked.http, 'GET', '/kv'), [401, 'SCUTTLEDB_UNAUTHORIZED'], 'a token file locks a node without a key too')
  const dir = await tempDir(t)
  const key = join(dir, 'node.key')
  await runCli(['keygen', key])
  const signingOpen = await startNode(t, ['--key', key, '--http-open'])
  t.deepEqual(await call(signingOpen.http, 'PUT', '/kv/x', undefined, 1), [200, null], '--http-open leaves a signing node open, on request')
  const badFile = join(dir, 'bad-tokens')
  await writeFile(badFile, `read ${READ}\n`, { mode: 0o644 })
  await chmod(badFile, 0o644)
  const readable = await runCli(['serve', '--db', join(dir, 'db1'), '--port', '0', '--http', '0', '--http-token-file', badFile])
  t.ok(readable.code === 1 && readable.stderr.includes('SCUTTLEDB_KEY_PERMISSIONS'), 'a token file others can read is refused (SCUTTLEDB_KEY_PERMISSIONS)')
  await chmod(badFile, 0o600)
  await writeFile(badFile, 'admin something-long-enough-123\n')
  const bad = await runCli(['serve', '--db', join(dir, 'db2'), '--port', '0', '--http', '0', '--http-token-file', badFile])
  t.ok(bad.code === 2 && bad.stderr.includes('SCUTTLEDB_USAGE'), 'a malformed token file is a usage error')
  await writeFile(badFile, 'read short\n')
  t.equal((await runCli(['serve', '--db', join(dir, 'db3'), '--port', '0', '--http', '0', '--http-token-file', badFile])).code, 2, 'so is a short token')
})

test('--http-host binds the HTTP API apart from replication; --cors answers listed origins only', async (t) => {
  const node = await startNode(t, ['--http-host', '127.0.0.2', '--cors', 'https://app.example,https://other.example'])
  t.ok(node.http.startsWith('http://127.0.0.2:'), 'the HTTP API is on --http-host')
  t.ok(node.port > 0, 'replication is on --host')
  const allowed = await fetch(`${node.http}/kv/x`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'PUT' } })
  t.equal(allowed.status, 204, 'a preflight is answered 204')
  t.equal(allowed.headers.get('access-control-allow-origin'), 'https://app.example', 'with the listed origin')
  t.ok(allowed.headers.get('access-control-allow-methods')?.includes('PUT'), 'and the methods')
  t.ok(allowed.headers.get('access-control-allow-headers')?.toLowerCase().includes('authorization'), 'and the headers a client may send')
  const get = await fetch(`${node.http}/status`, { headers: { origin: 'https://other.example' } })
  t.equal(get.headers.get('access-control-allow-origin'), 'https://other.example', 'a simple request from a listed origin gets the header')
  await get.body?.cancel()
  const err = await fetch(`${node.http}/kv/none`, { headers: { origin: 'https://app.example' } })
  t.equal(err.headers.get('access-control-allow-origin'), 'https://app.example', 'errors too, so the page can read them')
  await err.body?.cancel()
  const stranger = await fetch(`${node.http}/kv/x`, { method: 'OPTIONS', headers: { origin: 'https://evil.example' } })
  t.equal(stranger.headers.get('access-control-allow-origin'), null, 'an unlisted origin gets no CORS header')
})
