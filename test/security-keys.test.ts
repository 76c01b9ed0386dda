// Keys and the signing backend on their own: ids, files, PEM from ssh-keygen,
// refused keys (small RSA, degenerate Ed25519), and what sign/verify accept.
import { execFile } from 'node:child_process'
import { createHash, createPublicKey, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto'
import { chmod, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import test from 'tape'
import {
  createSecurity, generateKeyFile, generateKeys, idOf, isSmallOrderEd25519, keysFromPem, loadKeys, Model,
  publicKeyFromDer, publicKeyFromPem, saveKeys, securityCodes, securityOptions, smallOrderEd25519Keys, verifyReasons,
  type Update
} from '../lib/index.js'
import { pack } from '../lib/msgpack.js'
import { memoryModel, tempDir } from './helpers.js'

const run = promisify(execFile)

/** Expect `fn` to throw (or reject) with a coded error. */
async function throwsCode (fn: () => unknown, code: string): Promise<string | undefined> {
  try {
    await fn()
    return 'no error'
  } catch (err) {
    const got = (err as { code?: string }).code
    return got === code ? undefined : `code ${String(got)}`
  }
}

test('a new Ed25519 key pair: the id is base64url(sha256(SPKI DER)) of its public key', (t) => {
  const keys = generateKeys()
  const der = createPublicKey(keys.privateKey).export({ type: 'spki', format: 'der' })
  t.equal(keys.type, 'ed25519')
  t.ok(keys.publicKeyDer.equals(der), 'publicKeyDer is the SPKI DER')
  t.equal(keys.id, createHash('sha256').update(der).digest('base64url'), 'the id hashes exactly those bytes')
  t.equal(keys.id, idOf(der))
  t.match(keys.id, /^[A-Za-z0-9_-]{43}$/, '43 base64url characters: a valid node id')
  t.notEqual(generateKeys().id, keys.id, 'a new key, a new id')
  t.end()
})

test('key files: private 0600 and public 0644, loaded back to the same id; existing files are not overwritten', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'node.key')
  const saved = await generateKeyFile(path)
  t.equal((await stat(path)).mode & 0o777, 0o600, 'the private key file is 0600')
  t.equal((await stat(saved.publicPath)).mode & 0o777, 0o644, 'the public key file is 0644')
  t.match(await readFile(path, 'utf8'), /^-----BEGIN PRIVATE KEY-----/, 'PKCS#8 PEM')
  const keys = await loadKeys(path)
  t.equal(keys.id, saved.id, 'loadKeys gives the id generateKeyFile reported')
  t.equal(publicKeyFromPem(await readFile(saved.publicPath)).id, saved.id, 'the .pub file certifies the same id')
  t.equal(await throwsCode(async () => await generateKeyFile(path), securityCodes.KEY_EXISTS), undefined, 'a second keygen to the same path is KEY_EXISTS')
  t.equal((await loadKeys(path)).id, saved.id, 'and the key is untouched')
  await chmod(path, 0o644)
  t.equal(await throwsCode(async () => await loadKeys(path), securityCodes.KEY_PERMISSIONS), undefined, 'a world-readable private key is refused')
  t.equal((await loadKeys(path, { allowInsecurePermissions: true })).id, saved.id, '... unless explicitly allowed')
})

test('an encrypted key file needs its passphrase', async (t) => {
  const dir = await tempDir(t)
  const keys = generateKeys()
  const saved = await saveKeys(join(dir, 'k'), keys, { passphrase: 'correct horse' })
  t.match(await readFile(saved.path, 'utf8'), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/, 'encrypted PKCS#8')
  t.equal((await loadKeys(saved.path, { passphrase: 'correct horse' })).id, keys.id, 'loads with the passphrase')
  t.equal(await throwsCode(async () => await loadKeys(saved.path, { passphrase: 'wrong' }), securityCodes.INVALID_KEY), undefined, 'a wrong passphrase is INVALID_KEY')
})

test('an RSA key from ssh-keygen -m PEM loads, and its PKCS#1 public key gives the same id', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'id_rsa')
  await run('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-m', 'PEM', '-N', '', '-f', path])
  t.match(await readFile(path, 'utf8'), /^-----BEGIN RSA PRIVATE KEY-----/, 'ssh-keygen wrote PKCS#1 PEM')
  const keys = await loadKeys(path)
  t.equal(keys.type, 'rsa')
  const { stdout } = await run('ssh-keygen', ['-e', '-m', 'PEM', '-f', path + '.pub'])
  t.match(stdout, /^-----BEGIN RSA PUBLIC KEY-----/, 'ssh-keygen -e -m PEM prints PKCS#1')
  t.equal(publicKeyFromPem(stdout).id, keys.id, 'the public PEM certifies the same id')
  const security = createSecurity({ keys })
  const update: Update = [['k', 'v'], 1000, keys.id]
  const signed: Update = [...update, security.sign(update)]
  t.equal(await createSecurity().verify(signed), true, 'a verify-only node verifies its RSA/SHA-256 signature')
})

test('RSA keys under 2048 bits, with a degenerate exponent, or of other types are refused', async (t) => {
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 })
  const pem = small.privateKey.export({ type: 'pkcs1', format: 'pem' })
  t.equal(await throwsCode(() => keysFromPem(pem), securityCodes.INVALID_KEY), undefined, 'RSA-1024 private key')
  t.equal(await throwsCode(() => generateKeys({ type: 'rsa', modulusLength: 1024 }), securityCodes.INVALID_KEY), undefined, 'generating RSA-1024')
  const smallDer = small.publicKey.export({ type: 'spki', format: 'der' })
  t.equal(await throwsCode(() => publicKeyFromDer(smallDer), securityCodes.INVALID_KEY), undefined, 'RSA-1024 public key')
  // e = 1: every message is its own signature.
  const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' })
  const e1 = createPublicKey({ key: { ...jwk, e: 'AQ' }, format: 'jwk' })
  t.equal(await throwsCode(() => publicKeyFromDer(e1.export({ type: 'spki', format: 'der' })), securityCodes.INVALID_KEY), undefined, 'RSA with e = 1')
  for (const [name, pair] of [['P-256', generateKeyPairSync('ec', { namedCurve: 'P-256' })], ['ed448', generateKeyPairSync('ed448')]] as const) {
    t.equal(await throwsCode(() => publicKeyFromDer(pair.publicKey.export({ type: 'spki', format: 'der' })), securityCodes.INVALID_KEY), undefined, `${name} keys`)
  }
  const der = generateKeys().publicKeyDer
  t.equal(await throwsCode(() => publicKeyFromDer(Buffer.concat([der, Buffer.from([0])])), securityCodes.INVALID_KEY), undefined, 'trailing bytes after the DER')
})

// Ed25519 arithmetic in BigInt (RFC 8032), only to check the small-order list independently.
const P = 2n ** 255n - 19n
const mod = (a: bigint): bigint => ((a % P) + P) % P
function pow (b: bigint, e: bigint): bigint {
  let r = 1n
  for (b = mod(b); e > 0n; e >>= 1n, b = b * b % P) if ((e & 1n) === 1n) r = r * b % P
  return r
}
const D = mod(-121665n * pow(121666n, P - 2n))
type Point = [bigint, bigint]
function add ([x1, y1]: Point, [x2, y2]: Point): Point {
  const k = mod(D * x1 * x2 * y1 * y2)
  return [mod((x1 * y2 + x2 * y1) * pow(1n + k, P - 2n)), mod((y1 * y2 + x1 * x2) * pow(mod(1n - k), P - 2n))]
}
function decodePoint (bytes: Buffer): Point | undefined {
  let y = 0n
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? (bytes[i] as number) & 0x7f : bytes[i] as number)
  y = mod(y)
  const u = mod(y * y - 1n)
  const v = mod(D * y * y + 1n)
  let x = mod(u * pow(v, 3n) * pow(u * pow(v, 7n), (P - 5n) / 8n))
  if (mod(v * x * x) === mod(-u)) x = mod(x * pow(2n, (P - 1n) / 4n))
  if (mod(v * x * x) !== u) return undefined
  return [((x & 1n) === BigInt((bytes[31] as number) >> 7)) ? x : mod(-x), y]
}
const encodeY = (y: bigint): string => Buffer.from(Array.from({ length: 32 }, (_, i) => Number((y >> BigInt(8 * i)) & 255n))).toString('hex')

test('the small-order Ed25519 list is exactly the 8-torsion, and each is refused', async (t) => {
  const list = smallOrderEd25519Keys()
  const identity: Point = [0n, 1n]
  for (const bytes of list) {
    const point = decodePoint(bytes)
    let q = point as Point
    for (let i = 0; i < 3; i++) q = add(q, q)
    t.ok(point !== undefined && q[0] === identity[0] && q[1] === identity[1], `${bytes.toString('hex').slice(0, 8)}... has [8]P = O`)
  }
  // Every multiple of an order-8 point: all 8 small-order points; each y must be listed.
  const t8 = decodePoint(list[2] as Buffer) as Point
  const listed = new Set(list.map((b) => b.toString('hex')))
  let q = t8
  for (let k = 1; k <= 8; k++, q = add(q, t8)) t.ok(listed.has(encodeY(q[1])), `[${k}]T8 is listed`)
  for (const bytes of list) {
    for (const top of [0, 0x80]) {
      const raw = Buffer.from(bytes)
      raw[31] = (raw[31] as number) | top
      t.ok(isSmallOrderEd25519(raw), `flagged with sign bit ${top >> 7}`)
      const der = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw])
      t.equal(await throwsCode(() => publicKeyFromDer(der), securityCodes.INVALID_KEY), undefined, 'publicKeyFromDer refuses it')
    }
  }
  t.notOk(isSmallOrderEd25519(generateKeys().publicKeyDer.subarray(12)), 'a real key is not flagged')
  // Why it matters: node:crypto itself verifies R = identity, S = 0 under the identity key.
  const der = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), list[1] as Buffer])
  const trivial = Buffer.concat([Buffer.from([1]), Buffer.alloc(63)])
  t.ok(cryptoVerify(null, Buffer.from('any message at all'), createPublicKey({ key: der, format: 'der', type: 'spki' }), trivial), 'OpenSSL alone would accept it')
  const update: Update = [['k', 'v'], 1, idOf(der), [trivial.toString('base64url'), der.toString('base64url')]]
  t.equal(createSecurity().verifySync(update), verifyReasons.INVALID_KEY, 'our verifier does not')
})

test('sign refuses what no peer could verify; verify refuses re-spelled or domain-less signatures', async (t) => {
  const keys = generateKeys()
  const security = createSecurity({ keys })
  const update: Update = [['k', { n: 1 }], 1234.5, keys.id]
  const signed: Update = [...update, security.sign(update)]
  t.equal(security.verifySync(signed), true, 'a genuine update verifies')
  t.equal(await createSecurity({ verifyOn: 'main' }).verify(signed), true, 'on the main thread too')
  t.equal(security.verifySync(JSON.parse(JSON.stringify(signed)) as Update), true, 'it survives a JSON round trip (the original\'s wire)')
  t.equal(await throwsCode(() => security.sign([['k', new Map([[1, 2]])], 1, keys.id]), securityCodes.CANNOT_SIGN), undefined, 'a change that does not survive msgpack')
  t.equal(await throwsCode(() => security.sign([['k', 1], 1, 'someone else']), securityCodes.CANNOT_SIGN), undefined, 'an update of another source')
  t.equal(await throwsCode(() => createSecurity().sign(update), securityCodes.CANNOT_SIGN), undefined, 'a verify-only backend cannot sign')
  const [signature, key] = signed[3] as [string, string]
  t.equal(security.verifySync([...update, [signature + '=', key]]), verifyReasons.MALFORMED, 'padding added to the signature')
  t.equal(security.verifySync([...update, [signature, key + '=']]), verifyReasons.MALFORMED, 'padding added to the key')
  t.equal(security.verifySync([...update, { signature, key }]), verifyReasons.MALFORMED, 'another shape')
  const bare = cryptoSign(null, pack([update[0], update[1], update[2]]), keys.privateKey).toString('base64url')
  t.equal(security.verifySync([...update, [bare, key]]), verifyReasons.BAD_SIGNATURE, 'a signature without the update domain')
})

test('a bounded key cache still verifies sources it evicted', async (t) => {
  const verifier = createSecurity({ keyCacheSize: 2 })
  const signers = Array.from({ length: 5 }, () => createSecurity({ keys: generateKeys() }))
  const updates = signers.map((s, i): Update => {
    const u: Update = [['k', i], 10 + i, s.id as string]
    return [...u, s.sign(u)]
  })
  for (const u of [...updates, ...updates]) t.equal(await verifier.verify(u), true, `source ${u[2].slice(0, 6)} verifies`)
})

test('a secured Model refuses to sign from a database made with another id', async (t) => {
  const dir = await tempDir(t)
  const plain = new Model({ db: dir })
  await plain.open()
  await plain.close()
  const keys = generateKeys()
  const secured = new Model({ db: dir, ...securityOptions(keys) })
  t.equal(await throwsCode(async () => await secured.open(), 'SCUTTLEDB_ID_MISMATCH'), undefined, 'securityOptions pins the id: ID_MISMATCH at open')
  // Without the id pinned, the backend still will not sign for a foreign id.
  const unpinned = await memoryModel(t, { id: 'not-the-key', security: createSecurity({ keys }) })
  t.equal(await throwsCode(async () => await unpinned.set('k', 1), securityCodes.CANNOT_SIGN), undefined, 'set() fails with CANNOT_SIGN')
  t.equal(await unpinned.get('k'), undefined, 'and nothing was stored')
  t.equal(await throwsCode(async () => await memoryModel(t, securityOptions(keys)).then(async (m) => await m.set('m', new Map([[1, 2]]) as never)), 'SCUTTLEDB_INVALID_VALUE'), undefined, 'an unsignable change (outside the value domain) fails set() before it is signed')
})

test('saveKeys never leaves half a key pair: an existing private key file keeps .pub from being written', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'node.key')
  await writeFile(path, 'someone else\'s key\n', { mode: 0o600 })
  t.equal(await throwsCode(async () => await saveKeys(path, generateKeys()), securityCodes.KEY_EXISTS), undefined, 'KEY_EXISTS')
  t.equal(await readFile(path, 'utf8'), 'someone else\'s key\n', 'the existing file is untouched')
  t.equal(await throwsCode(async () => await stat(path + '.pub'), 'ENOENT'), undefined, 'no orphan .pub is left')
})
