// Integers that JSON.parse cannot keep exactly (beyond 2^53) are refused with
// SCUTTLEDB_INVALID_VALUE by `set` and by the HTTP API, not stored rounded:
// 9007199254740993 used to be stored as 9007199254740992.
import { join } from 'node:path'
import test from 'tape'
import { seededRandom } from '../lib/index.js'
import { inexactInteger } from '../lib/cli/http-json.js'
import { tempDir } from './helpers.js'
import { http, runCli, startNode } from './fixtures/net-helpers.js'

test('inexactInteger finds integer literals that are not exactly a double, outside strings only', async (t) => {
  const cases: Array<[string, string | undefined]> = [
    ['9007199254740993', '9007199254740993'],
    ['-9007199254740993', '-9007199254740993'],
    ['9007199254740992', undefined], // 2^53: exactly a double
    ['9007199254740994', undefined], // 2^53 + 2: exactly a double too
    ['{"a":[1,2,{"b":123456789012345678901}]}', '123456789012345678901'],
    ['"9007199254740993"', undefined],
    ['{"9007199254740993":"x \\" 9007199254740993"}', undefined],
    ['["\\\\", 9007199254740993]', '9007199254740993'],
    ['1e300', undefined],
    ['9007199254740993.0', undefined], // a fraction: a double by intent
    ['9007199254740993e0', undefined],
    ['1' + '0'.repeat(400), '1' + '0'.repeat(400)], // beyond any double: Infinity
    ['[0.12345678901234567890, -0, 42]', undefined],
    // The text JavaScript writes for a double is taken: it reads back as written (dump writes these).
    ['123456789012345680000', undefined], // JSON.stringify(1.2345678901234568e20)
    ['-123456789012345680000', undefined],
    ['1152921504606847000', undefined], // String(2 ** 60)
    ['1152921504606846976', undefined], // 2 ** 60 exactly
    ['123456789012345680001', '123456789012345680001']
  ]
  for (const [text, expected] of cases) {
    JSON.parse(text) // every case is valid JSON
    t.equal(inexactInteger(text), expected, `${text.slice(0, 60)}: ${expected === undefined ? 'none' : expected.slice(0, 30)}`)
  }
})

/** Whether the integer `n` is exactly a double, by its bits: its odd part fits 53 bits (and it is below 2^1024). */
function isDouble (n: bigint): boolean {
  let m = n < 0n ? -n : n
  if (m === 0n) return true
  let shift = 0
  while ((m & 1n) === 0n) { m >>= 1n; shift++ }
  return m < 2n ** 53n && m.toString(2).length + shift <= 1024
}

test('inexactInteger on random documents flags exactly the integers that are not a double', async (t) => {
  const seed = 0x5eed1e
  const random = seededRandom(seed)
  const wrong: string[] = []
  for (let i = 0; i < 300; i++) {
    const digits = 1 + Math.floor(random() * 24)
    let literal = String(1 + Math.floor(random() * 9))
    for (let d = 1; d < digits; d++) literal += String(Math.floor(random() * 10))
    if (random() < 0.5) literal = `-${literal}`
    // The same digits in a string, as a key, and as a number among others.
    const text = `{"s":"${literal}","${literal}":[true,null,1.5,${literal},"\\"${literal}"]}`
    const found = inexactInteger(text)
    const expected = isDouble(BigInt(literal)) || String(Number(literal)) === literal ? undefined : literal
    if (found !== expected) wrong.push(`${text}: ${String(found)}`)
  }
  t.deepEqual(wrong, [], `every document is judged right (seed ${seed})`)
})

test('set refuses an integer beyond 2^53 with SCUTTLEDB_INVALID_VALUE, on --db and through --node, and stores nothing', async (t) => {
  const db = join(await tempDir(t), 'db')
  const node = await startNode(t)
  for (const where of [['--db', db], ['--node', node.http]]) {
    const res = await runCli(['set', 'big', '9007199254740993', ...where])
    t.equal(res.code, 1, `${where[0]}: exit 1`)
    t.ok(res.stderr.trim().endsWith('[SCUTTLEDB_INVALID_VALUE]'), `${where[0]}: the line ends in SCUTTLEDB_INVALID_VALUE (${res.stderr.trim()})`)
    const get = await runCli(['get', 'big', ...where])
    t.ok(get.code === 1 && get.stderr.includes('[SCUTTLEDB_NOT_FOUND]'), `${where[0]}: nothing was stored`)
    for (const [text, stored] of [['9007199254740992', '9007199254740992'], ['1e300', '1e+300'], ['9007199254740993x', '"9007199254740993x"']]) {
      t.equal((await runCli(['set', 'ok', text, ...where])).code, 0, `${where[0]}: set ${text} is taken`)
      t.equal((await runCli(['get', 'ok', ...where])).stdout, `${stored}\n`, `${where[0]}: and read back as ${stored}`)
    }
    t.equal((await runCli(['set', 'raw', '9007199254740993', '--raw', ...where])).code, 0, `${where[0]}: --raw stores the text`)
    t.equal((await runCli(['get', 'raw', ...where])).stdout, '"9007199254740993"\n', `${where[0]}: as a string`)
  }
  t.equal(await node.stop(), 0, 'the node stops cleanly')
})

test('PUT /kv and POST /batch refuse an integer beyond 2^53 with 400 SCUTTLEDB_INVALID_VALUE and write nothing', async (t) => {
  const node = await startNode(t)
  const send = async (method: string, path: string, body: string): Promise<{ status: number, code?: string }> => {
    const res = await fetch(node.http + path, { method, headers: { 'content-type': 'application/json' }, body })
    const json = await res.json() as { error?: { code: string } }
    return { status: res.status, code: json.error?.code }
  }
  t.deepEqual(await send('PUT', '/kv/n', '9007199254740993'), { status: 400, code: 'SCUTTLEDB_INVALID_VALUE' }, 'PUT 2^53+1: 400 INVALID_VALUE')
  t.deepEqual(await send('PUT', '/kv/n', '{"deep":[1,{"x":-123456789012345678901}]}'), { status: 400, code: 'SCUTTLEDB_INVALID_VALUE' }, 'PUT with one nested: 400 INVALID_VALUE')
  t.deepEqual(await send('POST', '/batch', '[{"type":"put","key":"a","value":1},{"type":"put","key":"n","value":9007199254740993}]'),
    { status: 400, code: 'SCUTTLEDB_INVALID_VALUE' }, 'a batch with one: 400 INVALID_VALUE')
  t.equal((await http(node.http, 'GET', '/kv/n')).status, 404, 'n was not written')
  t.equal((await http(node.http, 'GET', '/kv/a')).status, 404, 'nor the rest of the batch')
  t.equal((await send('PUT', '/kv/s', '"9007199254740993"')).status, 200, 'the digits as a JSON string are taken')
  t.equal((await send('PUT', '/kv/f', '1e300')).status, 200, 'a double such as 1e300 is taken')
  t.deepEqual((await http(node.http, 'GET', '/kv/f')).body, 1e300, 'and read back')
  t.equal(await node.stop(), 0, 'the node stops cleanly')
})

test('load refuses a line with an integer beyond 2^53 (SCUTTLEDB_BAD_REQUEST naming it) and writes nothing', async (t) => {
  const db = join(await tempDir(t), 'db')
  const res = await runCli(['load', '--db', db], '{"key":"a","value":1}\n{"key":"n","value":9007199254740993}\n')
  t.equal(res.code, 1, 'exit 1')
  t.ok(res.stderr.trim().endsWith('[SCUTTLEDB_BAD_REQUEST]') && res.stderr.includes('Line 2'), `the line ends in SCUTTLEDB_BAD_REQUEST and names line 2 (${res.stderr.trim()})`)
})

test('a double beyond 2^53 that JavaScript writes as digits (1.2345678901234568e20) survives set, get, dump and load', async (t) => {
  const dir = await tempDir(t)
  const db = join(dir, 'db')
  t.equal((await runCli(['set', 'a', '1.2345678901234568e20', '--db', db])).code, 0, 'set with an exponent')
  const get = await runCli(['get', 'a', '--db', db])
  t.equal(get.stdout, '123456789012345680000\n', 'get writes it as JavaScript does')
  const back = await runCli(['set', 'b', get.stdout.trim(), '--db', db])
  t.equal(back.code, 0, `what get printed is taken back by set (${back.stderr.trim()})`)
  const dump = await runCli(['dump', '--db', db])
  const load = await runCli(['load', '--db', join(dir, 'copy')], dump.stdout)
  t.equal(load.code, 0, `load takes what dump wrote (${load.stderr.trim()})`)
  t.equal((await runCli(['dump', '--db', join(dir, 'copy')])).stdout, dump.stdout, 'the copy dumps the same')
})
