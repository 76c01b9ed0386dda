// How `scuttledb serve` reports peers it cannot replicate with: a node without
// a key dialing one with --key, and TLS clients that fail the TLS handshake.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'tape'
import { generateKeyFile } from '../lib/index.js'
import { tempDir, until } from './helpers.js'
import { selfSignedCert, startNode } from './fixtures/net-helpers.js'

function count (text: string, pattern: RegExp): number {
  return text.split('\n').filter((line) => pattern.test(line)).length
}

test('a node without a key dialing a node with --key logs an authentication error once, then backs off', async (t) => {
  const dir = await tempDir(t)
  await generateKeyFile(join(dir, 'a.key'))
  const a = await startNode(t, ['--key', join(dir, 'a.key')])
  const d = await startNode(t, ['--peer', `127.0.0.1:${a.port}`])
  // Count attempts on the refusing side: each one is a dropped connection there.
  t.ok(await until(() => count(a.log(), /dropped: SCUTTLEDB_HANDSHAKE_FAILED/) >= 3, 20_000), 'the dialer tried at least three times')
  const log = d.log()
  t.ok(/unreachable: SCUTTLEDB_HANDSHAKE_FAILED .*SCUTTLEDB_AUTH_PROTOCOL .*--key/.test(log), `it names the authentication it lacks (${log.trim()})`)
  t.notOk(log.includes('SCUTTLEDB_INVALID_MESSAGE'), 'not a malformed header')
  t.equal(count(log, /unreachable:/), 1, 'and says it once, not on every retry')
  t.ok(/dropped: SCUTTLEDB_HANDSHAKE_FAILED .*SCUTTLEDB_AUTH_PROTOCOL/.test(a.log()), 'the node with the key logs that the dialer does not speak the handshake')
  t.deepEqual(await Promise.all([d.stop(), a.stop()]), [0, 0], 'both exit 0')
})

test('a TLS node logs a client that fails the TLS handshake while running, with its address', async (t) => {
  const dir = await tempDir(t)
  const { cert, key } = await selfSignedCert(t)
  await writeFile(join(dir, 'cert.pem'), cert)
  await writeFile(join(dir, 'key.pem'), key, { mode: 0o600 })
  const a = await startNode(t, ['--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem'), '--handshake-timeout', '1000'])
  // It trusts only the system's CAs, so it refuses the self-signed certificate and hangs up.
  const c = await startNode(t, ['--peer', `tls://127.0.0.1:${a.port}`])
  t.ok(await until(() => /peer 127\.0\.0\.1:\d+ refused: /.test(a.log()), 20_000), `the running node logs the failed handshake (${a.log().trim()})`)
  t.notOk(a.log().includes('?:0'), 'with the client\'s address')
  t.ok(/unreachable: .*(SELF_SIGNED|CERT)/.test(c.log()), 'the client logs why it gave up')
  t.deepEqual(await Promise.all([c.stop(), a.stop()]), [0, 0], 'both exit 0')
})
