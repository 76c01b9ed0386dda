// Red team round 11, area l (security): `serve --key` with a key file it cannot use
// must say why, and what to do. An encrypted key (docs/cli.md: key files must be
// unencrypted) was answered "Not a usable PEM private key (or a wrong passphrase);
// make one with "scuttledb keygen FILE"": no passphrase was ever asked for, and that
// keygen command refuses, since FILE exists (SCUTTLEDB_KEY_EXISTS).
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'tape'
import { generateKeys, privateKeyPem } from '../lib/index.js'
import { tempDir } from './helpers.js'
import { runCli } from './fixtures/net-helpers.js'

test('serve --key with an encrypted or unusable key file: a coded error whose advice works', async (t) => {
  const dir = await tempDir(t)
  const encrypted = join(dir, 'enc.key')
  await writeFile(encrypted, privateKeyPem(generateKeys(), 'secret'), { mode: 0o600 })
  const junk = join(dir, 'junk.key')
  await writeFile(junk, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', { mode: 0o600 })

  const enc = await runCli(['serve', '--db', join(dir, 'db1'), '--port', '0', '--http', 'off', '--key', encrypted])
  t.notEqual(enc.code, 0, 'an encrypted key does not start')
  t.ok(enc.stderr.includes('SCUTTLEDB_INVALID_KEY'), 'SCUTTLEDB_INVALID_KEY')
  t.ok(/encrypted/i.test(enc.stderr), `it says the key is encrypted (${enc.stderr.trim()})`)
  t.notOk(enc.stderr.includes('passphrase)'), 'and does not speak of a wrong passphrase, which the command never takes')

  for (const [file, out] of [[encrypted, enc], [junk, await runCli(['serve', '--db', join(dir, 'db2'), '--port', '0', '--http', 'off', '--key', junk])]] as const) {
    const advised = /scuttledb keygen ([^"\s]+)/.exec(out.stderr)?.[1]
    t.notEqual(advised, file, `the advice for ${file} is not a keygen of that existing file, which refuses (${out.stderr.trim()})`)
  }
})
