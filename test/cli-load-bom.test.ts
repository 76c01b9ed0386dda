// load reads a file saved with a UTF-8 byte order mark (Windows editors do) and
// CRLF line ends: the mark made line 1 "not JSON" (SCUTTLEDB_BAD_REQUEST) and
// nothing was loaded.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'tape'
import { tempDir } from './helpers.js'
import { runCli } from './fixtures/net-helpers.js'

test('load takes a file with a UTF-8 byte order mark and CRLF lines; a mark elsewhere is still refused', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'in.jsonl')
  await writeFile(file, '\ufeff{"key":"a","value":1}\r\n{"key":"b","value":"\u00fc"}\r\n')
  const res = await runCli(['load', file, '--db', join(dir, 'db')])
  t.equal(res.code, 0, `exit 0 (${res.stderr.trim()})`)
  t.equal((await runCli(['dump', '--db', join(dir, 'db')])).stdout, '{"key":"a","value":1}\n{"key":"b","value":"\u00fc"}\n', 'both keys loaded')
  await writeFile(file, '{"key":"a","value":1}\n\ufeff{"key":"b","value":2}\n')
  const bad = await runCli(['load', file, '--db', join(dir, 'db2')])
  t.ok(bad.code === 1 && bad.stderr.includes('Line 2') && bad.stderr.trim().endsWith('[SCUTTLEDB_BAD_REQUEST]'), `a mark on line 2 is refused (${bad.stderr.trim()})`)
})
