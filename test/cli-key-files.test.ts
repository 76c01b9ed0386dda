// loadKeys (and `serve --key`) on a file that is not a private key says so
// (SCUTTLEDB_INVALID_KEY) before looking at its mode: a public key (0644, as
// keygen writes it) used to be SCUTTLEDB_KEY_PERMISSIONS, "chmod 600 it".
import { chmod, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'tape'
import { generateKeyFile, generateKeys, loadKeys, privateKeyPem } from '../lib/index.js'
import { tempDir } from './helpers.js'
import { runCli } from './fixtures/net-helpers.js'

/** The code `fn` rejects with, or 'ok'. */
async function codeOf (fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn()
    return 'ok'
  } catch (err) {
    return String((err as { code?: unknown }).code)
  }
}

test('loadKeys on a public key file (mode 0644) is SCUTTLEDB_INVALID_KEY, not KEY_PERMISSIONS', async (t) => {
  const dir = await tempDir(t)
  for (const type of ['ed25519', 'rsa'] as const) {
    const saved = await generateKeyFile(join(dir, `${type}.key`), { type, ...(type === 'rsa' ? { modulusLength: 2048 } : {}) })
    t.equal(await codeOf(async () => await loadKeys(`${saved.path}.pub`)), 'SCUTTLEDB_INVALID_KEY', `${type}: the .pub file is INVALID_KEY`)
    t.equal(await codeOf(async () => await loadKeys(saved.path)), 'ok', `${type}: the private key still loads`)
  }
})

test('loadKeys on a world-readable file: a private key is KEY_PERMISSIONS (encrypted or not), anything else INVALID_KEY', async (t) => {
  const dir = await tempDir(t)
  const keys = generateKeys()
  const files: Array<[string, string, string]> = [
    ['plain.key', privateKeyPem(keys), 'SCUTTLEDB_KEY_PERMISSIONS'],
    ['encrypted.key', privateKeyPem(keys, 'pass phrase'), 'SCUTTLEDB_KEY_PERMISSIONS'],
    ['junk.key', 'not a key\n', 'SCUTTLEDB_INVALID_KEY'],
    ['empty.key', '', 'SCUTTLEDB_INVALID_KEY']
  ]
  for (const [name, text, code] of files) {
    const path = join(dir, name)
    await writeFile(path, text)
    await chmod(path, 0o644)
    t.equal(await codeOf(async () => await loadKeys(path, { passphrase: 'pass phrase' })), code, `${name} (0644): ${code}`)
  }
})

test('serve --key PUBLIC_KEY_FILE exits 1 with SCUTTLEDB_INVALID_KEY', async (t) => {
  const dir = await tempDir(t)
  const saved = await generateKeyFile(join(dir, 'a.key'))
  const res = await runCli(['serve', '--db', join(dir, 'db'), '--key', `${saved.path}.pub`, '--port', '0', '--http', 'off'])
  t.equal(res.code, 1, 'exit 1')
  t.ok(res.stderr.trim().endsWith('[SCUTTLEDB_INVALID_KEY]'), `the error line ends in SCUTTLEDB_INVALID_KEY (${res.stderr.trim()})`)
  t.notOk(res.stderr.includes('chmod'), 'and does not say to chmod the public key')
})
