// `scuttledb ls` prints `KEY<TAB>JSON` lines (docs/cli.md) with the key as it is: a key holding
// a newline or a tab makes the output ambiguous. The one key "a\t1\nb" (value 2) prints as
// "a\t1\nb\t2\n", which reads as two keys, a=1 and b=2. Now such a key (and one starting with
// a double quote) prints as its JSON string; any other key prints as it is.
import { join } from 'node:path'
import test from 'tape'
import { tempDir } from './helpers.js'
import { runCli } from './fixtures/net-helpers.js'

test('ls output names each key unambiguously, even one holding a tab or a newline', async (t) => {
  const db = join(await tempDir(t), 'db')
  t.equal((await runCli(['set', 'a\t1\nb', '2', '--db', db])).code, 0, 'the key is stored')
  const ls = await runCli(['ls', '--db', db])
  t.equal(ls.code, 0)
  const lines = ls.stdout.split('\n').filter((l) => l !== '')
  t.equal(lines.length, 1, `one key, one line (${JSON.stringify(ls.stdout)})`)
  t.equal(lines[0], '"a\\t1\\nb"\t2', 'the key is printed as its JSON string')
  for (const key of ['"quoted', 'plain key', 'ü\u2028x']) t.equal((await runCli(['set', key, '1', '--db', db])).code, 0)
  const all = (await runCli(['ls', '--db', db])).stdout.split('\n').filter((l) => l !== '')
  t.same(all.map((l) => l.slice(0, l.lastIndexOf('\t'))).sort(), ['"\\"quoted"', '"a\\t1\\nb"', 'plain key', 'ü\u2028x'].sort(), 'a key starting with a quote is quoted too; others print as they are')
})
