// Red team round 11, area l (security): `serve --static DIR` serves DIR's files
// "without a token". Started with `--static .` in the directory of its key (as
// docs/security.md's CLI example lays out a.key and tokens), a node with --key and
// --http-token-file served its private key, its token file and its database to
// anyone: GET /a.key answered 200 with the PEM, while GET /kv answered 401.
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'tape'
import { tempDir } from './helpers.js'
import { runCli } from './fixtures/net-helpers.js'

test('serve --static refuses a directory that holds the node\'s key, tokens, TLS key or database', async (t) => {
  const dir = await tempDir(t)
  const key = join(dir, 'a.key')
  t.equal((await runCli(['keygen', key])).code, 0, 'a key')
  const tokens = join(dir, 'tokens')
  await writeFile(tokens, `read-write ${'x'.repeat(32)}\n`, { mode: 0o600 })
  const site = join(dir, 'site')
  await mkdir(site)
  await writeFile(join(site, 'index.html'), '<p>app</p>')
  const base = ['serve', '--port', '0', '--http', '0', '--host', '127.0.0.1']
  const cases: Array<[string, string[], string]> = [
    ['the key and tokens', [...base, '--db', join(dir, 'db'), '--key', key, '--http-token-file', tokens, '--static', dir], '--key'],
    ['the tokens', [...base, '--db', join(site, '..', 'db'), '--http-token-file', tokens, '--static', dir], '--http-token-file'],
    ['the database', [...base, '--db', join(site, 'data'), '--static', site], '--db']
  ]
  const link = join(dir, 'link')
  await symlink(dir, link)
  cases.push(['the key, through a symbolic link', [...base, '--db', join(dir, 'db'), '--key', key, '--http-token-file', tokens, '--static', link], '--key'])
  for (const [what, args, option] of cases) {
    const res = await runCli(args)
    t.equal(res.code, 2, `--static over ${what}: exit 2 (${res.stderr.trim().split('\n')[0] ?? ''})`)
    t.ok(res.stderr.includes('SCUTTLEDB_USAGE') && res.stderr.includes(option), `SCUTTLEDB_USAGE naming ${option}`)
  }
})
