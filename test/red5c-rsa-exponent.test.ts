// Red team (round 5, c): docs/security.md caps RSA keys at 8192 bits "to bound
// the cost of one verification", but the public exponent is unbounded. OpenSSL
// limits e to 64 bits only for moduli above 3072 bits, so a hostile peer mints an
// RSA-3072 key with a 3064-bit exponent (its id is free: the key's hash) and sends
// junk updates signed "with" it: each is verified before being refused, and each
// verification is a full-size modular exponentiation, ~4.6 ms here against
// ~0.2 ms for an RSA-8192 key with e = 65537 (the documented worst case) and
// ~0.1 ms for Ed25519. Such a key must be refused as `invalid public key` before
// any cryptography, as e = 1 and even exponents are.
import test from 'tape'
import { createPublicKey, generatePrimeSync, randomBytes } from 'node:crypto'
import { createSecurity, idOf, verifyReasons, type Update } from '../lib/index.js'

const b64u = (x: bigint): string => {
  let h = x.toString(16)
  if (h.length % 2 === 1) h = '0' + h
  return Buffer.from(h, 'hex').toString('base64url')
}
const gcd = (a: bigint, b: bigint): bigint => { while (b !== 0n) [a, b] = [b, a % b]; return a }

/** The SPKI DER of an RSA public key of `bits` bits whose exponent has `ebits` bits. */
function rsaKeyWithExponent (bits: number, ebits: number): Buffer {
  const p = generatePrimeSync(bits / 2, { bigint: true })
  const q = generatePrimeSync(bits / 2, { bigint: true })
  const phi = (p - 1n) * (q - 1n)
  let e = BigInt('0x' + randomBytes(ebits / 8).toString('hex')) | 1n | (1n << BigInt(ebits - 1))
  while (gcd(e, phi) !== 1n) e += 2n
  return createPublicKey({ key: { kty: 'RSA', n: b64u(p * q), e: b64u(e) }, format: 'jwk' }).export({ type: 'spki', format: 'der' })
}

test('red5c: an RSA key with a huge public exponent is refused before its signature is checked', async (t) => {
  const der = rsaKeyWithExponent(3072, 3064)
  const source = idOf(der)
  const signature = randomBytes(384)
  signature[0] = 0 // below the modulus: OpenSSL does the exponentiation
  const junk: Update = [['k', 'v'], Date.now() + 0.5, source, [signature.toString('base64url'), der.toString('base64url')]]
  for (const verifyOn of ['main', 'workers', 'threadpool'] as const) {
    const security = createSecurity({ verifyOn })
    const started = process.hrtime.bigint()
    const verdicts = await security.verifyBatch(Array.from({ length: 50 }, () => junk))
    const ms = Number(process.hrtime.bigint() - started) / 1e6
    t.deepEqual([...new Set(verdicts)], [verifyReasons.INVALID_KEY], `${verifyOn}: refused as an unusable key (50 junk updates took ${ms.toFixed(1)} ms)`)
  }
})
