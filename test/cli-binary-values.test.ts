// Binary values (a Uint8Array set through the library) have no JSON form. The
// CLI and the HTTP API showed them as Buffer's toJSON, {"type":"Buffer","data":[...]},
// which reads like a stored object: `dump` then `load` turned every binary value
// into such an object, silently. They are now null with "unrepresentable": true
// in listings, dumps and feeds, `get` and GET /kv/:key refuse them
// (SCUTTLEDB_UNREPRESENTABLE), and `load` refuses such a dump line.
import { join } from 'node:path'
import test from 'tape'
import { Model } from '../lib/index.js'
import { tempDir } from './helpers.js'
import { http, runCli, startNode } from './fixtures/net-helpers.js'

const MARK = { value: null, unrepresentable: true }

async function binaryDb (dir: string): Promise<void> {
  const model = new Model({ db: dir })
  await model.open()
  await model.set('bin', Buffer.from([0, 1, 255]))
  await model.set('nested', { a: [new Uint8Array([7])] })
  // An object that merely looks like Buffer's JSON is an ordinary value.
  await model.set('obj', { type: 'Buffer', data: [0, 1, 255] })
  await model.close()
}

const lines = (text: string): unknown[] => text.trim().split('\n').map((line) => JSON.parse(line))

test('dump writes a binary value as null with "unrepresentable": true, and load refuses that line and writes nothing', async (t) => {
  const dir = await tempDir(t)
  const db = join(dir, 'db')
  await binaryDb(db)
  const dump = await runCli(['dump', '--db', db])
  t.equal(dump.code, 0, 'dump exits 0')
  t.deepEqual(lines(dump.stdout), [
    { key: 'bin', ...MARK },
    { key: 'nested', ...MARK },
    { key: 'obj', value: { type: 'Buffer', data: [0, 1, 255] } }
  ], 'binary values are marked, the look-alike object is itself')
  t.ok(dump.stderr.includes('2 '), `stderr says how many values were not written (${dump.stderr.trim()})`)
  const ls = await runCli(['ls', '--db', db])
  t.equal(ls.stdout, 'bin\tnull\nnested\tnull\nobj\t{"type":"Buffer","data":[0,1,255]}\n', 'ls shows null for binary values')
  const copy = join(dir, 'copy')
  const load = await runCli(['load', '--db', copy], dump.stdout)
  t.equal(load.code, 1, 'load exits 1')
  t.ok(load.stderr.trim().endsWith('[SCUTTLEDB_BAD_REQUEST]') && load.stderr.includes('Line 1'), `naming line 1 (${load.stderr.trim()})`)
  const after = await runCli(['get', 'obj', '--db', copy])
  t.equal(after.code, 1, 'nothing was loaded')
})

test('get and GET /kv/:key refuse a binary value with SCUTTLEDB_UNREPRESENTABLE; listings and the changes feed mark it', async (t) => {
  const db = join(await tempDir(t), 'db')
  await binaryDb(db)
  const direct = await runCli(['get', 'bin', '--db', db])
  t.equal(direct.code, 1, '--db: get exits 1')
  t.ok(direct.stderr.trim().endsWith('[SCUTTLEDB_UNREPRESENTABLE]'), `--db: coded (${direct.stderr.trim()})`)
  t.equal((await runCli(['get', 'obj', '--db', db])).stdout, '{"type":"Buffer","data":[0,1,255]}\n', '--db: the look-alike object reads back')
  const node = await startNode(t, [], { db })
  const res = await http(node.http, 'GET', '/kv/nested')
  t.equal(res.status, 406, 'GET /kv/nested: 406')
  t.equal((res.body as { error: { code: string } }).error.code, 'SCUTTLEDB_UNREPRESENTABLE', 'coded')
  const viaNode = await runCli(['get', 'bin', '--node', node.http])
  t.ok(viaNode.code === 1 && viaNode.stderr.trim().endsWith('[SCUTTLEDB_UNREPRESENTABLE]'), `--node: get exits 1, coded (${viaNode.stderr.trim()})`)
  const list = await http(node.http, 'GET', '/kv')
  t.deepEqual((list.body as { items: unknown[] }).items, [
    { key: 'bin', ...MARK },
    { key: 'nested', ...MARK },
    { key: 'obj', value: { type: 'Buffer', data: [0, 1, 255] } }
  ], 'GET /kv marks binary values')
  const changes = (await http(node.http, 'GET', '/changes')).body as { changes: Array<{ key: string, value: unknown, unrepresentable?: boolean }> }
  t.deepEqual(changes.changes.map(({ key, value, unrepresentable }) => ({ key, value, unrepresentable })), [
    { key: 'bin', value: null, unrepresentable: true },
    { key: 'nested', value: null, unrepresentable: true },
    { key: 'obj', value: { type: 'Buffer', data: [0, 1, 255] }, unrepresentable: undefined }
  ], 'GET /changes marks them as docs/cli.md says')
  const dump = await runCli(['dump', '--node', node.http])
  t.deepEqual(lines(dump.stdout)[0], { key: 'bin', ...MARK }, 'dump through the node marks them too')
  t.equal(await node.stop(), 0, 'the node stops cleanly')
})
