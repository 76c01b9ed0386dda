import { createRequire } from 'node:module'
import test from 'tape'
import { HybridClock, seededRandom } from '../lib/index.js'
import { admissibleFractions, encodeTimestamp, decodeTimestamp, isTimestamp, MAX_FRACTIONS } from '../lib/timestamp.js'

// The original scuttlebutt's timestamp function, the real one (it reads Date.now on each call).
const require = createRequire(import.meta.url)
const originalTimestamp = require('monotonic-timestamp') as () => number

/**
 * Every timestamp the real original makes in millisecond `ms`, in order, by running it with
 * Date.now stubbed to `ms`, until it reaches `ms + 1` or passes `upTo` (its values never
 * decrease within a millisecond, so none after that can equal anything at or below `upTo`).
 */
function originalValues (ms: number, upTo = Infinity): number[] {
  const real = Date.now
  const out: number[] = []
  try {
    Date.now = () => ms - 1
    originalTimestamp() // a different millisecond first, so its count starts again at ms
    Date.now = () => ms
    for (;;) {
      const v = originalTimestamp()
      out.push(v)
      // At ms + 1 the next call would loop forever (its own do-while never finds a new value).
      if (v >= ms + 1 || v > upTo) return out
    }
  } finally {
    Date.now = real
  }
}

/** Everything a clock whose wall clock stands at `ms` issues before it moves to the next millisecond. */
function issuedIn (ms: number): { issued: number[], spill: number } {
  const clock = new HybridClock(() => ms)
  const issued: number[] = []
  for (;;) {
    const v = clock.next()
    if (Math.floor(v) !== ms) return { issued, spill: v }
    issued.push(v)
  }
}

const binadeOf = (ms: number): number => Math.floor(Math.log2(ms))

test('encodeTimestamp keeps numeric order as string order and round-trips', (t) => {
  const random = seededRandom(42)
  const values = [1, 0.001, 1795501157020, 1795501157020.001, Number.MAX_SAFE_INTEGER, 1e300, Number.MIN_VALUE]
  const fractions = admissibleFractions(40)
  for (let i = 0; i < 500; i++) values.push(random() * 2e12, 2 ** 40 + Math.floor(random() * 2 ** 40) + fractions[Math.floor(random() * fractions.length)])
  const sorted = [...values].sort((a, b) => a - b)
  const encoded = sorted.map(encodeTimestamp)
  t.deepEqual([...encoded].sort(), encoded, 'string order is numeric order')
  t.ok(encoded.every((e) => e.length === 16), 'fixed width')
  t.deepEqual(encoded.map(decodeTimestamp), sorted, 'round trip')
  t.end()
})

test('isTimestamp accepts finite numbers above zero only', (t) => {
  for (const ok of [1, 0.5, 1795501157020.001]) t.ok(isTimestamp(ok), String(ok))
  for (const bad of [0, -0, -1, NaN, Infinity, -Infinity, '1', null, undefined, 1n]) t.notOk(isTimestamp(bad), String(bad))
  t.end()
})

// From today (2^40 ms is 2004) past 2039 (2^41), a binade where the fractions are capped, small
// test clocks, the first millisecond, and the last one before a binade without admissible values.
const millis = [1795501157020, 2 ** 40, 2 ** 41 - 1, 2 ** 41, 2 ** 41 + 987654321, 2 ** 30 + 7, 1_000_000, 5_000_000, 1, 2 ** 42 - 1]

test('no timestamp issued in a millisecond is one the original can make in it, at every magnitude', (t) => {
  for (const ms of millis) {
    const { issued, spill } = issuedIn(ms)
    const made = new Set(originalValues(ms, issued[issued.length - 1]))
    const equal = issued.filter((v) => made.has(v))
    t.deepEqual(equal, [], `${ms}: none of the ${issued.length} issued values is among the original's ${made.size}`)
    t.ok(issued.length > 0 && issued.every((v) => v > ms && v < ms + 1), `${ms}: all are fractions of that millisecond (never the integer)`)
    t.equal(issued.length, admissibleFractions(binadeOf(ms)).length, `${ms}: the clock uses every fraction of its table`)
    t.ok(issued.length <= MAX_FRACTIONS, `${ms}: at most ${MAX_FRACTIONS} fractions`)
    t.ok(spill > issued[issued.length - 1] && spill >= ms + 1, `${ms}: then it moves on to the next millisecond (${spill})`)
  }
  t.end()
})

test('in the binades of this century the clock uses every value of a millisecond that the original cannot make', (t) => {
  for (const ms of [1795501157020, 2 ** 41 + 987654321]) {
    const e = binadeOf(ms)
    const ulp = 2 ** (e - 52)
    const made = originalValues(ms)
    t.equal(made[made.length - 1], ms + 1, `${ms}: the original reaches the next integer by rounding`)
    const all = new Set([...made, ...issuedIn(ms).issued])
    t.equal(all.size, 1 / ulp + 1, `${ms}: together they are every one of the ${1 / ulp + 1} doubles from ms to ms + 1`)
  }
  t.equal(admissibleFractions(40).length, 1048, 'until 2039 there are 1048 per millisecond')
  t.equal(admissibleFractions(41).length, 186, 'until 2109 there are 186 per millisecond')
  t.equal(admissibleFractions(42).length, 0, 'from 2109 on there are none')
  t.end()
})

test('HybridClock stays strictly increasing when the wall clock stands still or steps back', (t) => {
  let wall = 1_000_000
  const clock = new HybridClock(() => wall)
  const a = clock.next()
  const b = clock.next()
  t.ok(a > 1_000_000 && a < 1_000_001, 'the wall clock\'s millisecond when it is ahead')
  t.ok(b > a, 'same millisecond: a fraction later')
  wall = 10
  const c = clock.next()
  t.ok(c > b, 'wall clock stepped back: still later')
  clock.observe(5_000_000)
  t.ok(clock.next() > 5_000_000, 'after observing a later timestamp, the next one is above it')
  t.equal(clock.wall(), 10, 'wall() reads the wall clock')
  t.end()
})

test('a long burst in one millisecond stays strictly increasing and admissible as it spills over into later milliseconds', (t) => {
  const ms = 1795501157020
  const forbidden = new Set(originalValues(ms).map((v) => v - ms))
  const clock = new HybridClock(() => ms)
  let previous = 0
  let ok = true
  let last = 0
  const firstOfMs: number[] = []
  for (let i = 0; i < 200_000; i++) {
    const v = clock.next()
    const whole = Math.floor(v)
    if (!(v > previous) || forbidden.has(v - whole) || whole === v) ok = false
    if (whole !== Math.floor(previous)) firstOfMs.push(v)
    previous = v
    last = v
  }
  t.ok(ok, '200000 timestamps, each above the one before, none with a fraction the original makes')
  const fractions = admissibleFractions(40)
  t.equal(Math.floor(last), ms + Math.floor(199_999 / fractions.length), 'each millisecond holds its admissible fractions, then the next one starts')
  t.ok(firstOfMs.every((v, i) => v === ms + i + fractions[0]), 'each new millisecond starts at its first admissible fraction')
  t.end()
})

test('after observing any timestamp of an original, the next local one is above it and is not one the original can make', (t) => {
  const ms = 1795501157020
  const made = originalValues(ms)
  const forbidden = new Set(made)
  const fractions = admissibleFractions(40)
  let ok = true
  for (const seen of made) {
    for (const wall of [ms - 3, ms]) {
      const clock = new HybridClock(() => wall)
      const first = clock.next()
      clock.observe(seen)
      const a = clock.next()
      const b = clock.next()
      const above = Math.max(first, seen)
      const lowest = ms + (fractions.find((f) => ms + f > above) ?? 1 + fractions[0])
      if (!(a > seen && b > a) || forbidden.has(a) || forbidden.has(b) || a !== lowest) ok = false
    }
  }
  t.ok(ok, `for each of the original's ${made.length} values: the next local one is the least admissible above it`)
  const clock = new HybridClock(() => ms)
  clock.observe(ms + 5)
  const next = clock.next()
  t.equal(next, ms + 5 + fractions[0], 'after an integer timestamp: its first admissible fraction')
  clock.observe(next - fractions[0] / 2)
  t.ok(clock.next() > next, 'observing something older changes nothing')
  t.end()
})

test('a restarted clock continues above its persisted timestamp with admissible values', (t) => {
  const ms = 1795501157020
  const forbidden = new Set(originalValues(ms))
  for (const persisted of [ms, ms + 0.5, ms + admissibleFractions(40)[7], ms + 1 - 2 ** -12]) {
    const clock = new HybridClock(() => ms - 5000, persisted)
    const a = clock.next()
    const b = clock.next()
    t.ok(a > persisted && b > a && !forbidden.has(a) && !forbidden.has(b) && a < ms + 2, `above ${persisted}: ${a}, ${b}`)
  }
  t.end()
})

test('HybridClock never repeats at magnitudes where no fraction is admissible or representable', (t) => {
  for (const start of [2 ** 42 - 1, 2 ** 52 + 2, 2 ** 60]) {
    const clock = new HybridClock(() => start)
    let previous = 0
    let ok = true
    for (let i = 0; i < 3000; i++) {
      const v = clock.next()
      if (!(v > previous)) ok = false
      previous = v
    }
    t.ok(ok, `from ${start}: strictly increasing`)
  }
  const huge = 2 ** 60
  const clock = new HybridClock(() => 0, huge)
  const a = clock.next()
  const b = clock.next()
  t.ok(a > huge && b > a, 'each is the next representable double at least')
  t.equal(clock.last, b, 'last is the latest issued')
  t.end()
})

test('clocks spread by different ids start a millisecond at different admissible values, and stay increasing', (t) => {
  // A millisecond no other test uses: the original's clock is left exhausted in it (see originalValues).
  const ms = 1795501158537
  const original = new Set(originalValues(ms))
  const allowed = new Set(Array.from(admissibleFractions(binadeOf(ms)), (f) => ms + f))
  const firsts = new Set<number>()
  let bad = 0
  for (let i = 0; i < 200; i++) {
    const clock = new HybridClock(() => ms)
    clock.spread(`node-${i}`)
    let last = 0
    for (let n = 0; n < 50; n++) {
      const v = clock.next()
      if (n === 0) firsts.add(v)
      if (!(v > last) || original.has(v) || (Math.floor(v) === ms && !allowed.has(v))) bad++
      last = v
    }
  }
  t.equal(bad, 0, 'every timestamp is increasing, admissible and not one the original can make')
  // 200 ids over 64 places: nearly every place is taken; without the spread there is one.
  t.ok(firsts.size >= 48, `first timestamps of 200 ids fall on ${firsts.size} different values`)
  t.end()
})
