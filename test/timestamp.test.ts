import test from 'tape'
import { HybridClock, seededRandom } from '../lib/index.js'
import { encodeTimestamp, decodeTimestamp, isTimestamp, TICK } from '../lib/timestamp.js'

test('encodeTimestamp keeps numeric order as string order and round-trips', (t) => {
  const random = seededRandom(42)
  const values = [1, 0.001, 1795501157020, 1795501157020.001, Number.MAX_SAFE_INTEGER, 1e300, Number.MIN_VALUE]
  for (let i = 0; i < 500; i++) values.push(random() * 2e12, Math.floor(random() * 2e12) + TICK * Math.floor(random() * 5))
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

test('HybridClock stays strictly increasing when the wall clock stands still or steps back', (t) => {
  let wall = 1_000_000
  const clock = new HybridClock(() => wall)
  const a = clock.next()
  const b = clock.next()
  t.equal(a, 1_000_000, 'the wall clock when it is ahead')
  t.ok(b > a, 'same millisecond: a fraction later')
  wall = 10
  const c = clock.next()
  t.ok(c > b, 'wall clock stepped back: still later')
  clock.observe(5_000_000)
  t.ok(clock.next() > 5_000_000, 'after observing a later timestamp, the next one is above it')
  t.equal(clock.wall(), 10, 'wall() reads the wall clock')
  t.end()
})

test('HybridClock never repeats at magnitudes where a tick rounds away', (t) => {
  const huge = 2 ** 60
  const clock = new HybridClock(() => 0, huge)
  const a = clock.next()
  const b = clock.next()
  t.ok(a > huge && b > a, 'each is the next representable double at least')
  t.equal(clock.last, b, 'last is the latest issued')
  t.end()
})
