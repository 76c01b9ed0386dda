import test from 'tape'
import * as ed from '@noble/ed25519'
import { sha512 } from '@noble/hashes/sha2.js'
import { pack } from 'msgpackr'
import { createBrowserSecurity, createSecurity, idOf, type Update } from '../lib/index.js'

// Every verifier of a network must give every signed update the same verdict, or a
// writer can split it: an update that browsers store and Node nodes refuse (or the
// reverse) leaves the replicas apart for good. These are the edge cases where
// Ed25519 implementations are known to differ (cofactored or cofactorless equation,
// canonical encodings, unreduced S, small and mixed order points), crafted with a
// known secret scalar; each must get one verdict from the Node backend (OpenSSL,
// on the main thread and on the worker pool) and from the browser backend (@noble).

ed.hashes.sha512 = sha512
const L = 2n ** 252n + 27742317777372353535851937790883648493n
const P = 2n ** 255n - 19n
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00])
/** A point of order 8 (one of the 8-torsion). */
const T8 = ed.Point.fromHex('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05')

const mod = (x: bigint, m = L): bigint => ((x % m) + m) % m
const fromLE = (b: Uint8Array): bigint => { let x = 0n; for (let i = b.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[i] as number); return x }
const toLE = (x: bigint): Uint8Array => { const b = new Uint8Array(32); for (let i = 0; i < 32; i++) { b[i] = Number(x & 255n); x >>= 8n } return b }
const cat = (...parts: Uint8Array[]): Uint8Array => { const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0)); let at = 0; for (const p of parts) { out.set(p, at); at += p.length } return out }
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64url')

/** The bytes a signed update's signature covers (the wire format of docs/security.md). */
const signedData = (change: unknown, ts: number, source: string): Uint8Array => pack(['scuttledb/update/1', change, ts, source])

interface Vector { name: string, update: Update, expected: boolean }

/** An update from the key whose raw encoding is `A`, with the signature `R || S` made by `craft` (which sees k). */
function vector (name: string, A: Uint8Array, expected: boolean, craft: (k: (R: Uint8Array) => bigint) => { R: Uint8Array, S: Uint8Array }): Vector {
  const der = cat(SPKI_PREFIX, A)
  const source = idOf(der)
  const change = ['k', name]
  const ts = 1_700_000_000_000
  const data = signedData(change, ts, source)
  const k = (R: Uint8Array): bigint => mod(fromLE(sha512(cat(R, A, data))))
  const { R, S } = craft(k)
  return { name, expected, update: [change, ts, source, [b64(cat(R, S)), b64(der)]] as unknown as Update }
}

function vectors (): Vector[] {
  const a = mod(fromLE(sha512(new TextEncoder().encode('consensus test key')).subarray(0, 32)))
  const A = ed.Point.BASE.multiply(a)
  const Ab = A.toBytes()
  const honest = (r: bigint) => (k: (R: Uint8Array) => bigint) => {
    const R = ed.Point.BASE.multiply(r).toBytes()
    return { R, S: toLE(mod(r + k(R) * a)) }
  }
  const list: Vector[] = [
    vector('honest signature', Ab, true, honest(1234567n)),
    // R = rB + T8: [8]([S]B - R - [k]A) = 0, so a cofactored verifier accepts it; [S]B = R + [k]A does not hold.
    vector('R with a torsion component', Ab, false, (k) => {
      const R = ed.Point.BASE.multiply(7654321n).add(T8).toBytes()
      return { R, S: toLE(mod(7654321n + k(R) * a)) }
    }),
    // S + L: the same point, an unreduced scalar.
    vector('S not reduced below L', Ab, false, (k) => {
      const R = ed.Point.BASE.multiply(99n).toBytes()
      return { R, S: toLE(mod(99n + k(R) * a) + L) }
    }),
    // R = the identity, S = k a: the equation holds exactly (odd, but valid everywhere).
    vector('R the identity, S = k a', Ab, true, (k) => {
      const R = ed.Point.ZERO.toBytes()
      return { R, S: toLE(mod(k(R) * a)) }
    }),
    // The identity again, spelled with the sign bit of x = 0 set: not its canonical encoding.
    vector('R the identity with the sign bit set', Ab, false, (k) => {
      const R = ed.Point.ZERO.toBytes(); R[31] = (R[31] as number) | 0x80
      return { R, S: toLE(mod(k(R) * a)) }
    })
  ]
  // A mixed-order key A' = aB + T8: with R = rB, [S]B = R + [k]A' holds only when 8 divides k.
  const mixed = A.add(T8).toBytes()
  const mixedSig = (wantDivisible: boolean) => (k: (R: Uint8Array) => bigint) => {
    for (let r = 1n; ; r++) {
      const R = ed.Point.BASE.multiply(r).toBytes()
      const kk = k(R)
      if ((kk % 8n === 0n) === wantDivisible) return { R, S: toLE(mod(r + kk * a)) }
    }
  }
  list.push(vector('mixed-order key, 8 does not divide k', mixed, false, mixedSig(false)))
  list.push(vector('mixed-order key, 8 divides k', mixed, true, mixedSig(true)))
  // A key spelled y + p (y < 19, a point on the curve): not canonical; the same point has a canonical spelling.
  for (let y = 2n; y < 19n; y++) {
    const bytes = toLE(y + P)
    let point: ed.Point
    try { point = ed.Point.fromBytes(toLE(y), false) } catch { continue }
    if (point.isSmallOrder()) continue
    list.push(vector(`key spelled y + p (y = ${y})`, bytes, false, (k) => {
      // Nobody knows this point's discrete log: sign as if it were 1, which no verifier may accept anyway.
      const R = ed.Point.BASE.multiply(5n).toBytes()
      return { R, S: toLE(mod(5n + k(R))) }
    }))
    break
  }
  return list
}

test('Ed25519 edge cases get one verdict from the Node backend (main thread and workers) and the browser backend', async (t) => {
  const node = createSecurity({ verifyOn: 'main' })
  const workers = createSecurity({ verifyOn: 'workers' })
  const browser = createBrowserSecurity()
  const list = vectors()
  t.ok(list.some((v) => v.name.startsWith('key spelled')), 'a non-canonical key on the curve was found')
  const batch = await workers.verifyBatch?.(list.map((v) => v.update))
  t.equal(batch?.length, list.length, 'the worker pool answered every vector')
  list.forEach((v, i) => {
    const verdicts = { node: node.verifySync(v.update) === true, workers: batch?.[i] === true, browser: browser.verify(v.update) === true }
    t.deepEqual(verdicts, { node: v.expected, workers: v.expected, browser: v.expected }, `${v.name}: ${v.expected ? 'accepted' : 'refused'} by every backend`)
  })
})
