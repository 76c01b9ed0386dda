import test from 'tape'
import { prefixEnd } from '../lib/cli/http-list.js'
import { memoryModel } from './helpers.js'
import { rawExchange, serveApi } from './fixtures/http-fixtures.js'

interface Page { items: Array<{ key: string, value: unknown }>, next: string | null }

async function keys (base: string, query: string): Promise<string[]> {
  const res = await fetch(`${base}/kv?${query}`)
  if (res.status !== 200) throw new Error(`${query}: HTTP ${res.status}`)
  return ((await res.json()) as Page).items.map((i) => i.key)
}

async function errorOf (res: Response): Promise<[number, string]> {
  const body = await res.json() as { error: { code: string } }
  return [res.status, body.error.code]
}

test('GET /kv takes prefix, gt, gte, lt, lte, reverse and limit, and pages with next', async (t) => {
  const model = await memoryModel(t)
  const base = await serveApi(t, model)
  for (const k of ['a', 'l', 'la', 'lb', 'lz', 'l\u{10FFFF}x', 'm', 'ma', 'z']) await model.set(k, k)
  t.deepEqual(await keys(base, 'prefix=l'), ['l', 'la', 'lb', 'lz', 'l\u{10FFFF}x'], 'prefix (including the highest code point after it)')
  t.deepEqual(await keys(base, 'gte=l&lt=m'), ['l', 'la', 'lb', 'lz', 'l\u{10FFFF}x'], 'gte and lt')
  t.deepEqual(await keys(base, 'gt=l&lte=m'), ['la', 'lb', 'lz', 'l\u{10FFFF}x', 'm'], 'gt and lte')
  t.deepEqual(await keys(base, 'prefix=l&gt=la&lt=lz'), ['lb'], 'prefix and bounds together')
  t.deepEqual(await keys(base, 'prefix=m&reverse=true'), ['ma', 'm'], 'reverse')
  t.deepEqual(await keys(base, 'gt=z'), [], 'an empty range')
  t.deepEqual(await keys(base, 'gt=m&lt=b'), [], 'an inverted range is empty')
  const pages: string[][] = []
  let after: string | null = null
  do {
    const res = await fetch(`${base}/kv?prefix=l&reverse=true&limit=2${after === null ? '' : `&after=${encodeURIComponent(after)}`}`)
    const page = await res.json() as Page
    pages.push(page.items.map((i) => i.key))
    after = page.next
  } while (after !== null)
  t.deepEqual(pages, [['l\u{10FFFF}x', 'lz'], ['lb', 'la'], ['l']], 'reverse pages: next continues downwards')
  for (const bad of ['nope=1', 'limit=1001', 'limit=x', 'reverse=maybe', 'gt=a&gte=a', 'prefix=a&prefix=b']) {
    t.deepEqual(await errorOf(await fetch(`${base}/kv?${bad}`)), [400, 'SCUTTLEDB_BAD_REQUEST'], `${bad} is 400 SCUTTLEDB_BAD_REQUEST`)
  }
  t.deepEqual(await errorOf(await fetch(`${base}/kv/x?limit=1`)), [400, 'SCUTTLEDB_BAD_REQUEST'], 'a query on a key is refused too')
  t.equal(prefixEnd('a\u{10FFFF}'), 'b', 'the end of a prefix carries past the highest code point')
  t.equal(prefixEnd('\u{D7FF}'), '\u{E000}', 'and skips the surrogates')
  t.equal(prefixEnd(''), undefined, 'the empty prefix has no end')
})

test('HTTP methods: HEAD where GET works, OPTIONS, 405 with Allow, 415 for a body that is not JSON', async (t) => {
  const model = await memoryModel(t)
  const base = await serveApi(t, model)
  await model.set('k', { v: 1 })
  const head = await fetch(`${base}/kv/k`, { method: 'HEAD' })
  t.equal(head.status, 200, 'HEAD on a key is 200')
  t.equal(head.headers.get('content-type'), 'application/json; charset=utf-8', 'with the GET headers')
  t.equal((await head.text()).length, 0, 'and no body')
  t.equal((await fetch(`${base}/kv/none`, { method: 'HEAD' })).status, 404, 'HEAD of an absent key is 404')
  for (const path of ['/kv', '/status', '/changes', '/events']) t.equal((await fetch(base + path, { method: 'HEAD' })).status, 200, `HEAD ${path}`)
  const post = await fetch(`${base}/kv/k`, { method: 'POST' })
  t.equal(post.headers.get('allow'), 'GET, HEAD, PUT, DELETE, OPTIONS', '405 names what is allowed')
  t.deepEqual(await errorOf(post), [405, 'SCUTTLEDB_METHOD_NOT_ALLOWED'], 'a wrong method is 405 SCUTTLEDB_METHOD_NOT_ALLOWED')
  t.equal((await fetch(`${base}/kv`, { method: 'PUT' })).headers.get('allow'), 'GET, HEAD, OPTIONS', 'per route')
  const options = await fetch(`${base}/kv/k`, { method: 'OPTIONS' })
  t.deepEqual([options.status, options.headers.get('allow')], [204, 'GET, HEAD, PUT, DELETE, OPTIONS'], 'OPTIONS answers 204 with Allow')
  const text = await fetch(`${base}/kv/k`, { method: 'PUT', body: '"plain"', headers: { 'content-type': 'text/plain' } })
  t.deepEqual(await errorOf(text), [415, 'SCUTTLEDB_UNSUPPORTED_MEDIA_TYPE'], 'a text/plain body is 415')
  t.deepEqual(await model.get('k'), { v: 1 }, 'and nothing was stored')
  t.deepEqual(await errorOf(await fetch(`${base}/kv/k`, { method: 'PUT', body: '1' })), [415, 'SCUTTLEDB_UNSUPPORTED_MEDIA_TYPE'], 'so is an untyped one')
  const json = await fetch(`${base}/kv/k`, { method: 'PUT', body: '"ok"', headers: { 'content-type': 'application/json; charset=utf-8' } })
  t.equal(json.status, 200, 'application/json with a charset is taken')
  const big = await fetch(`${base}/kv/k`, { method: 'PUT', body: `"${'x'.repeat(2048)}"`, headers: { 'content-type': 'application/json' } })
  t.equal(big.status, 200, 'a body under the limit is taken')
  const tooBig = await serveApi(t, model, { maxBody: 1024 })
  t.deepEqual(await errorOf(await fetch(`${tooBig}/kv/k`, { method: 'PUT', body: `"${'x'.repeat(2048)}"`, headers: { 'content-type': 'application/json' } })), [413, 'SCUTTLEDB_BODY_TOO_LARGE'], 'over it, 413 SCUTTLEDB_BODY_TOO_LARGE')
  t.deepEqual(await errorOf(await fetch(`${base}/kv/%ED%A0%80`)), [400, 'SCUTTLEDB_BAD_REQUEST'], 'a key that is not UTF-8 (an encoded surrogate) is 400')
})

test('errors from Node\'s HTTP parser and timeouts are JSON with a code', async (t) => {
  const model = await memoryModel(t)
  const base = await serveApi(t, model, { headersTimeout: 200 })
  const json = (r: { body: string }): string => (JSON.parse(r.body) as { error: { code: string } }).error.code
  const longUrl = await rawExchange(base, `GET /kv/${'x'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`)
  t.deepEqual([longUrl.status, json(longUrl)], [414, 'SCUTTLEDB_URL_TOO_LONG'], 'a 100,000-character key is 414 SCUTTLEDB_URL_TOO_LONG')
  t.ok(/content-type: application\/json/i.test(longUrl.headers), 'as JSON')
  const bigHeader = await rawExchange(base, `GET /status HTTP/1.1\r\nHost: x\r\nX-Big: ${'y'.repeat(20_000)}\r\n\r\n`)
  t.deepEqual([bigHeader.status, json(bigHeader)], [431, 'SCUTTLEDB_HEADERS_TOO_LARGE'], 'a 20 KB header is 431 SCUTTLEDB_HEADERS_TOO_LARGE')
  const garbage = await rawExchange(base, 'NOT HTTP\r\n\r\n')
  t.deepEqual([garbage.status, json(garbage)], [400, 'SCUTTLEDB_BAD_REQUEST'], 'garbage is 400 SCUTTLEDB_BAD_REQUEST')
  // Headers never finished: the server's own timer answers (however long the check takes to run).
  const slow = await rawExchange(base, 'GET /status HTTP/1.1\r\nHost: x\r\n')
  t.deepEqual([slow.status, json(slow)], [408, 'SCUTTLEDB_REQUEST_TIMEOUT'], 'unfinished headers are 408 SCUTTLEDB_REQUEST_TIMEOUT')
  const missing = await fetch(`${base}/nowhere`)
  t.deepEqual(await errorOf(missing), [404, 'SCUTTLEDB_NOT_FOUND'], 'an unknown route is 404 JSON')
})
