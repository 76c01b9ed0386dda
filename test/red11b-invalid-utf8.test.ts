// A request body or a `load` file that is not valid UTF-8 (JSON text must be UTF-8) was
// decoded with replacement characters: PUT '"a\xffb"' answered 200 and stored "a\ufffdb",
// a value the client never sent. It must be refused (SCUTTLEDB_BAD_REQUEST) and store nothing.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'tape'
import { tempDir } from './helpers.js'
import { runCli, startNode } from './fixtures/net-helpers.js'

const INVALID = Buffer.concat([Buffer.from('"a'), Buffer.from([0xff]), Buffer.from('b"')])

async function raw (base: string, method: string, path: string, body: Buffer): Promise<{ status: number, code: unknown }> {
  const res = await fetch(base + path, { method, headers: { 'content-type': 'application/json' }, body })
  const text = await res.text()
  return { status: res.status, code: (JSON.parse(text) as { error?: { code?: unknown } }).error?.code }
}

test('HTTP bodies that are not UTF-8 are refused, not stored altered', async (t) => {
  const node = await startNode(t)
  t.deepEqual(await raw(node.http, 'PUT', '/kv/x', INVALID), { status: 400, code: 'SCUTTLEDB_BAD_REQUEST' }, 'PUT is a 400')
  const batch = Buffer.concat([Buffer.from('[{"type":"put","key":"y","value":'), INVALID, Buffer.from('}]')])
  t.deepEqual(await raw(node.http, 'POST', '/batch', batch), { status: 400, code: 'SCUTTLEDB_BAD_REQUEST' }, 'POST /batch is a 400')
  for (const key of ['x', 'y']) t.equal((await fetch(`${node.http}/kv/${key}`)).status, 404, `${key} was not stored`)
  // A valid multi-byte character split across chunks still goes through.
  t.equal((await raw(node.http, 'PUT', '/kv/z', Buffer.from('"caf\u00e9 \u{1F600}"'))).status, 200, 'valid UTF-8 is taken')
  t.equal(await (await fetch(`${node.http}/kv/z`)).json(), 'caf\u00e9 \u{1F600}', 'and round-trips')
  t.equal(await node.stop(), 0)
})

test('load refuses a file that is not UTF-8 and writes nothing', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'dump.jsonl')
  await writeFile(file, Buffer.concat([Buffer.from('{"key":"ok","value":1}\n{"key":"k","value":'), INVALID, Buffer.from('}\n')]))
  const db = join(dir, 'db')
  const load = await runCli(['load', file, '--db', db])
  t.equal(load.code, 1, `load fails (${load.stderr.trim()})`)
  t.ok(load.stderr.includes('SCUTTLEDB_BAD_REQUEST'), 'with SCUTTLEDB_BAD_REQUEST')
  const dump = await runCli(['dump', '--db', db])
  t.notOk(dump.stdout.includes('"k"'), `nothing altered was stored (${dump.stdout.trim()})`)
  t.notOk(dump.stdout.includes('"ok"'), 'nothing at all: the load is all or nothing')
})
