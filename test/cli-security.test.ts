// The command's security: `scuttledb keygen` and `scuttledb id`, and
// `scuttledb serve --key --allow --tls-*` as real processes on 127.0.0.1.
import { readFile, stat, writeFile, chmod } from 'node:fs/promises'
import https from 'node:https'
import { join } from 'node:path'
import test, { type Test } from 'tape'
import {
  authenticate, connectWebSocket, createSecurity, generateKeyFile, loadKeys, Model, publicKeyFromPem, securityOptions, type Update
} from '../lib/index.js'
import { memoryModel, tempDir, until } from './helpers.js'
import { http, runCli, selfSignedCert, startNode, type NodeProcess } from './fixtures/net-helpers.js'

async function put (node: NodeProcess, key: string, value: unknown): Promise<void> {
  const res = await http(node.http, 'PUT', `/kv/${encodeURIComponent(key)}`, value)
  if (res.status !== 200) throw new Error(`PUT ${key}: ${res.status} ${JSON.stringify(res.body)}`)
}

async function has (node: NodeProcess, key: string, value: unknown): Promise<boolean> {
  return await until(async () => {
    const res = await http(node.http, 'GET', `/kv/${encodeURIComponent(key)}`)
    return res.status === 200 && JSON.stringify(res.body) === JSON.stringify(value)
  }, 10_000)
}

async function absent (node: NodeProcess, key: string): Promise<boolean> {
  return (await http(node.http, 'GET', `/kv/${encodeURIComponent(key)}`)).status === 404
}

interface Status {
  id: string
  synced: boolean
  stats: { committed: number, rejected: number }
  peers: Array<{ direction: string, transport: string, state: string, id: string | null }>
  security: { key: string | null, allow: string[] | null, tls: boolean }
}

async function status (node: NodeProcess): Promise<Status> {
  return (await http(node.http, 'GET', '/status')).body as Status
}

/** A key file made by the library, and its id. */
async function key (t: Test, name: string): Promise<{ path: string, id: string }> {
  const path = join(await tempDir(t, 'scuttledb-key-'), name)
  const { id } = await generateKeyFile(path)
  return { path, id }
}

test('keygen writes a 0600 private key and a .pub, prints the id; id reads it back; mistakes are coded', async (t) => {
  const dir = await tempDir(t, 'scuttledb-keygen-')
  const path = join(dir, 'node.key')
  const made = await runCli(['keygen', path])
  t.equal(made.code, 0, 'keygen exits 0')
  const id = /^id +(\S+)$/m.exec(made.stdout)?.[1] ?? ''
  t.ok(/^[A-Za-z0-9_-]{43}$/.test(id), `it prints the id (${id})`)
  t.ok(made.stdout.includes(path) && made.stdout.includes(`${path}.pub`), 'and both file paths')
  t.equal((await stat(path)).mode & 0o777, 0o600, 'the private key is mode 0600')
  t.equal((await stat(`${path}.pub`)).mode & 0o777, 0o644, 'the public key is mode 0644')
  t.equal(publicKeyFromPem(await readFile(`${path}.pub`)).id, id, 'the id is the public key\'s')
  const printed = await runCli(['id', `${path}.pub`])
  t.equal(printed.code, 0, 'id exits 0')
  t.equal(printed.stdout, `${id}\n`, 'id prints the same id, alone on its line')

  const before = await readFile(path, 'utf8')
  const again = await runCli(['keygen', path])
  t.equal(again.code, 1, 'keygen on an existing key exits 1')
  t.ok(/exists; refusing to overwrite.*\[SCUTTLEDB_KEY_EXISTS\]/.test(again.stderr), `it says so (${again.stderr.trim()})`)
  t.equal(await readFile(path, 'utf8'), before, 'the key is untouched')
  await writeFile(join(dir, 'other.key.pub'), 'someone else\'s')
  const pubTaken = await runCli(['keygen', join(dir, 'other.key')])
  t.ok(pubTaken.code === 1 && /SCUTTLEDB_KEY_EXISTS/.test(pubTaken.stderr), 'an existing .pub is refused too')
  t.equal(await stat(join(dir, 'other.key')).then(() => true, () => false), false, 'and no private key was left behind')

  const rsa = await runCli(['keygen', '--type', 'rsa', '--bits', '2048', join(dir, 'rsa.key')])
  t.equal(rsa.code, 0, 'keygen --type rsa --bits 2048 exits 0')
  t.equal(publicKeyFromPem(await readFile(join(dir, 'rsa.key.pub'))).type, 'rsa', 'it made an RSA key')
  for (const args of [['--type', 'dsa', 'x'], ['--bits', '2048', 'x'], ['--type', 'rsa', '--bits', '1024', 'x'], []]) {
    const bad = await runCli(['keygen', ...args])
    t.ok(bad.code === 2 && /SCUTTLEDB_USAGE/.test(bad.stderr), `keygen ${args.join(' ')} is a usage error`)
  }
  const missing = await runCli(['id', join(dir, 'nope.pub')])
  t.ok(missing.code === 2 && /no such file.*SCUTTLEDB_USAGE/.test(missing.stderr), 'id on a missing file is a usage error')
  await writeFile(join(dir, 'junk.pub'), 'not a key')
  const junk = await runCli(['id', join(dir, 'junk.pub')])
  t.ok(junk.code === 1 && /SCUTTLEDB_INVALID_KEY/.test(junk.stderr), 'id on a file that is not a key is SCUTTLEDB_INVALID_KEY')
})

test('serve: --help documents the security options; a missing, loose or bad key file and bad options are coded errors', async (t) => {
  const usage = await runCli(['serve', '--help'])
  for (const option of ['--key', '--allow', '--tls-cert', '--tls-key', '--tls-ca', 'tls://']) t.ok(usage.stdout.includes(option), `--help documents ${option}`)
  const dir = await tempDir(t, 'scuttledb-serve-bad-')
  const { path, id } = await key(t, 'node.key')
  const db = join(dir, 'data')
  const missing = await runCli(['serve', '--db', db, '--key', join(dir, 'nope.key')])
  t.ok(missing.code === 2 && /--key .*no such file.*\[SCUTTLEDB_USAGE\]/.test(missing.stderr), `a missing key file: exit 2 (${missing.stderr.trim()})`)
  await chmod(path, 0o644)
  const loose = await runCli(['serve', '--db', db, '--key', path])
  t.ok(loose.code === 1 && /chmod 600.*\[SCUTTLEDB_KEY_PERMISSIONS\]/.test(loose.stderr), `a key file others can read: exit 1 (${loose.stderr.trim()})`)
  await chmod(path, 0o600)
  const pub = join(dir, 'pub-as-key')
  await writeFile(pub, await readFile(`${path}.pub`), { mode: 0o600 })
  const notPrivate = await runCli(['serve', '--db', db, '--key', pub])
  t.ok(notPrivate.code === 1 && /SCUTTLEDB_INVALID_KEY/.test(notPrivate.stderr), 'a public key given as --key is SCUTTLEDB_INVALID_KEY')
  const cases = [
    ['--allow', id],
    ['--key', path, '--allow', 'not-an-id'],
    ['--tls-cert', `${path}.pub`],
    ['--tls-cert', join(dir, 'nope.pem'), '--tls-key', join(dir, 'nope.pem')],
    ['--tls-cert', `${path}.pub`, '--tls-key', path],
    ['--peer', 'udp://127.0.0.1:4100']
  ]
  for (const args of cases) {
    const bad = await runCli(['serve', '--db', db, '--port', '0', '--http', 'off', ...args])
    t.ok(bad.code === 2 && /SCUTTLEDB_(USAGE|BAD_ADDRESS)/.test(bad.stderr), `${args.join(' ')}: exit 2 (${bad.stderr.trim()})`)
  }
  t.equal(await stat(db).then(() => true, () => false), false, 'no database was created by any of them')
})

test('serve --key --allow: writes are signed and verified; a key not on the allow-list is refused by the handshake', async (t) => {
  const [ka, kb, kc] = await Promise.all([key(t, 'a.key'), key(t, 'b.key'), key(t, 'c.key')])
  const a = await startNode(t, ['--key', ka.path, '--allow', kb.id])
  const b = await startNode(t, ['--key', kb.path, '--allow', `${ka.id},${kc.id}`, '--peer', `127.0.0.1:${a.port}`])
  t.equal(a.id, ka.id, 'the node id is the key\'s id')
  await put(a, 'signed', { by: 'a' })
  await put(b, 'back', 'from b')
  t.ok(await has(b, 'signed', { by: 'a' }), 'a write on one node arrives on the other')
  t.ok(await has(a, 'back', 'from b'), 'and the other way')
  const sb = await status(b)
  t.deepEqual(sb.security, { key: 'ed25519', allow: [ka.id, kc.id], tls: false }, '/status shows the key type and the allow-list')
  t.equal(sb.stats.rejected, 0, 'nothing was rejected')
  t.ok(sb.peers.some((p) => p.direction === 'outgoing' && p.id === ka.id && p.state === 'synced'), 'the dialer is synced with the proven peer')

  // c is on b's list but not on a's: a refuses it during the handshake.
  const c = await startNode(t, ['--key', kc.path, '--allow', ka.id, '--peer', `127.0.0.1:${a.port}`])
  await put(c, 'intruder', 1)
  t.ok(await until(() => /SCUTTLEDB_AUTH_REJECTED/.test(c.log()), 10_000), 'the refused node logs SCUTTLEDB_AUTH_REJECTED')
  t.ok(/SCUTTLEDB_HANDSHAKE_FAILED.*SCUTTLEDB_AUTH_DENIED/.test(a.log()), 'the refusing node logs SCUTTLEDB_AUTH_DENIED')
  // An unsecured node does not even speak the handshake.
  const d = await startNode(t, ['--peer', `127.0.0.1:${a.port}`])
  await put(d, 'unsigned', 1)
  t.ok(await until(() => /SCUTTLEDB_AUTH_PROTOCOL/.test(a.log()), 10_000), 'a node without a key fails the handshake (SCUTTLEDB_AUTH_PROTOCOL)')
  await put(a, 'after', 2)
  await put(b, 'after-b', 3)
  t.ok(await has(b, 'after', 2) && await has(a, 'after-b', 3), 'the allowed nodes keep replicating')
  t.ok(await absent(a, 'intruder') && await absent(b, 'intruder'), 'the refused node\'s write never arrived')
  t.ok(await absent(a, 'unsigned') && await absent(b, 'unsigned'), 'nor the unsecured node\'s')
  t.ok(await absent(c, 'signed') && await absent(d, 'signed'), 'and they received nothing')
  t.deepEqual(await Promise.all([d.stop(), c.stop(), b.stop(), a.stop()]), [0, 0, 0, 0], 'every node exits 0')

  // On disk: a's write, as b stored it, is signed by a's key and verifies.
  const model = new Model({ db: b.db })
  await model.open()
  const history: Update[] = []
  for await (const update of model.history()) history.push(update)
  await model.close()
  const signed = history.find((u) => (u[0] as [string])[0] === 'signed')
  t.ok(signed !== undefined && signed[2] === ka.id && signed.length === 4, 'b holds a\'s update with its signature')
  t.equal(signed === undefined ? undefined : createSecurity().verifySync(signed), true, 'and the signature verifies')
  t.ok(history.every((u) => u.length === 4 && createSecurity().verifySync(u) === true), 'every update b holds is signed and verifies')
  t.ok(history.every((u) => u[2] === ka.id || u[2] === kb.id), 'only a and b ever wrote to it')

  // The database belongs to the key's id.
  const wrongKey = await runCli(['serve', '--db', a.db, '--key', kb.path, '--port', '0', '--http', 'off'])
  t.ok(wrongKey.code === 1 && /\[SCUTTLEDB_ID_MISMATCH\]/.test(wrongKey.stderr), `another key on a's database: SCUTTLEDB_ID_MISMATCH (${wrongKey.stderr.trim()})`)
  const noKey = await runCli(['serve', '--db', a.db, '--port', '0', '--http', 'off'])
  t.ok(noKey.code === 2 && /belongs to a node that signs/.test(noKey.stderr), 'serving it without --key is refused')
  const unsignedSet = await runCli(['set', 'x', '1', '--db', a.db])
  t.ok(unsignedSet.code === 2 && /--key/.test(unsignedSet.stderr), 'a --db write without its --key is refused')
  const signedSet = await runCli(['set', 'x', '1', '--db', a.db, '--key', ka.path])
  t.equal(signedSet.code, 0, 'with --key it is written')
  t.equal((await runCli(['get', 'x', '--db', a.db])).stdout, '1\n', 'and reads back')
})

test('serve --tls-cert/--tls-key: TLS replication and WSS; a peer with --tls-ca replicates, one that does not trust the certificate is refused', async (t) => {
  const dir = await tempDir(t, 'scuttledb-tls-files-')
  const { cert, key: certKey } = await selfSignedCert(t)
  const [certFile, keyFile] = [join(dir, 'cert.pem'), join(dir, 'key.pem')]
  await writeFile(certFile, cert)
  await writeFile(keyFile, certKey, { mode: 0o600 })
  const [ka, kb, kw] = await Promise.all([key(t, 'a.key'), key(t, 'b.key'), key(t, 'w.key')])
  const a = await startNode(t, ['--tls-cert', certFile, '--tls-key', keyFile, '--ws', '0', '--key', ka.path, '--allow', kb.id, '--allow', kw.id])
  const b = await startNode(t, ['--tls-ca', certFile, '--key', kb.path, '--allow', ka.id, '--peer', `127.0.0.1:${a.port}`])
  await put(a, 'over-tls', true)
  await put(b, 'back-over-tls', true)
  t.ok(await has(b, 'over-tls', true) && await has(a, 'back-over-tls', true), 'the nodes replicate over TLS (and authenticate inside it)')
  const sb = await status(b)
  t.ok(sb.peers.some((p) => p.direction === 'outgoing' && p.transport === 'tls' && p.id === ka.id), 'the peer connection is TLS')
  t.equal((await status(a)).security.tls, true, '/status says the node serves TLS')
  const upgrade = await new Promise<number>((resolve, reject) => {
    https.get({ host: '127.0.0.1', port: a.ws, path: '/', ca: cert }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    }).on('error', reject)
  })
  t.equal(upgrade, 426, '--ws serves WSS with the same certificate (a plain HTTPS request gets 426)')
  // A library client over WSS runs the same handshake.
  const keys = await loadKeys(kw.path)
  const local = await memoryModel(t, securityOptions(keys))
  const client = connectWebSocket(local, { url: `wss://127.0.0.1:${a.ws}/`, tls: { ca: cert }, handshake: authenticate({ keys, allow: [ka.id] }) })
  t.teardown(async () => { await client.close() })
  t.ok(await until(() => client.state === 'synced', 10_000), 'an allowed client authenticates over WSS')
  t.equal(await local.get('over-tls'), true, 'and replicates')
  await client.close()
  // A peer dialing TLS that trusts only the system's CAs.
  const c = await startNode(t, ['--peer', `tls://127.0.0.1:${a.port}`])
  t.ok(await until(() => /unreachable: .*(SELF_SIGNED|CERT)/.test(c.log()), 10_000), `the untrusting peer logs the certificate error (${/unreachable: (.*)/.exec(c.log())?.[1] ?? ''})`)
  t.ok(await absent(c, 'over-tls'), 'and receives nothing')
  t.deepEqual(await Promise.all([c.stop(), b.stop(), a.stop()]), [0, 0, 0], 'every node exits 0')
})
