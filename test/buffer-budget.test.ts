// BufferBudget (lib/buffer-budget.ts) and the decoders that reserve in it
// (lib/codec.ts): what is held is counted before it is kept, released when a
// frame completes or the decoder is disposed, and a reservation that does not
// fit refuses the largest holder.
import { once } from 'node:events'
import test from 'tape'
import { BufferBudget, codecs, type BufferAccount } from '../lib/index.js'
import { codes, type ScuttledbError } from '../lib/errors.js'
import { frame, memoryModel } from './helpers.js'

/** An account that records its refusals. */
function account (budget: BufferBudget): { account: BufferAccount, refusals: string[] } {
  const refusals: string[] = []
  return { account: budget.open((err) => { refusals.push(err.code) }), refusals }
}

function codeOf (fn: () => void): string | undefined {
  try {
    fn()
  } catch (err) {
    return (err as ScuttledbError).code
  }
  return undefined
}

test('BufferBudget: reservations that fit are granted; release and close give bytes back', (t) => {
  const budget = new BufferBudget(100)
  const a = account(budget)
  const b = account(budget)
  a.account.reserve(60)
  b.account.reserve(40)
  t.equal(budget.used, 100, 'reservations up to the limit are granted')
  a.account.release(25)
  t.equal(a.account.held, 35, 'release gives back part')
  b.account.close()
  b.account.close()
  t.equal(budget.used, 35, 'close gives back everything, once')
  b.account.release(10)
  t.equal(budget.used, 35, 'a release after close changes nothing')
  t.equal(budget.peak, 100, 'peak is the most held at once')
  t.equal(budget.accounts, 1, 'a closed account is forgotten')
  t.deepEqual([a.refusals, b.refusals], [[], []], 'nobody was refused')
  t.end()
})

test('BufferBudget: a reservation that does not fit refuses the largest holder, or the asker when it is the largest', (t) => {
  const budget = new BufferBudget(100)
  const big = account(budget)
  const small = account(budget)
  big.account.reserve(70)
  small.account.reserve(20)
  small.account.reserve(15)
  t.deepEqual(big.refusals, [codes.OVERLOADED], 'the largest holder is refused to make room')
  t.ok(big.account.closed, 'and closed')
  t.equal(big.account.held, 0, 'holding nothing')
  t.equal(small.account.held, 35, 'the asker got its bytes')
  t.equal(budget.used, 35, 'the budget counts only what is held')
  t.equal(codeOf(() => { big.account.reserve(1) }), codes.OVERLOADED, 'a refused account stays refused')

  const other = account(budget)
  other.account.reserve(30)
  t.equal(codeOf(() => { small.account.reserve(40) }), codes.OVERLOADED, 'an asker that would hold the most is refused itself')
  t.deepEqual(small.refusals, [codes.OVERLOADED], 'and told, like any refused account')
  t.equal(budget.used, 30, 'its bytes are given back')
  t.deepEqual(other.refusals, [], 'the smaller holder goes on')
  t.equal(budget.refused, 2, 'refusals are counted')
  t.end()
})

test('BufferBudget: the asker is refused when it would hold the most, also on a tie; one reservation of the whole limit fits an idle budget', (t) => {
  const budget = new BufferBudget(100)
  const a = account(budget)
  const b = account(budget)
  a.account.reserve(60)
  b.account.reserve(30)
  t.equal(codeOf(() => { b.account.reserve(30) }), codes.OVERLOADED, 'b would hold 60, as much as a: b is refused, not a bystander')
  t.deepEqual(a.refusals, [], 'a goes on')
  const c = account(budget)
  t.equal(codeOf(() => { c.account.reserve(61) }), codes.OVERLOADED, 'c would hold 61, more than a: c is refused')
  const d = account(budget)
  d.account.reserve(40)
  t.equal(budget.used, 100, 'd fits exactly')
  a.account.close()
  d.account.close()
  const e = account(budget)
  e.account.reserve(100)
  t.equal(budget.used, 100, 'a reservation of the whole limit fits on an idle budget')
  t.throws(() => new BufferBudget(0), TypeError, 'a budget is a positive integer')
  t.end()
})

test('msgpack decoder: a partial frame is reserved before it is kept and released once it is decoded', (t) => {
  const budget = new BufferBudget(1000)
  const { account: acc } = account(budget)
  const decoder = codecs.msgpack.decoder(900, acc)
  const values: unknown[] = []
  const onValue = (value: unknown): void => { values.push(value) }
  const first = frame('a'.repeat(300))
  const whole = Buffer.concat([first, frame('b'.repeat(10))])
  decoder.write(whole.subarray(0, 2), onValue)
  t.equal(budget.used, 2, 'two bytes of a length are held')
  decoder.write(whole.subarray(2, 200), onValue)
  t.equal(budget.used, 200, 'a partial body is held')
  decoder.write(whole.subarray(200, whole.length - 3), onValue)
  t.equal(values.length, 1, 'the first frame decoded')
  t.equal(budget.used, whole.length - 3 - first.length, 'only the second frame\'s partial bytes are held')
  decoder.write(whole.subarray(whole.length - 3), onValue)
  t.equal(values.length, 2, 'the second frame decoded')
  t.equal(budget.used, 0, 'nothing is held between frames')
  decoder.write(frame('c'.repeat(500)).subarray(0, 400), onValue)
  t.equal(budget.used, 400, 'a new partial frame is held')
  decoder.dispose()
  t.equal(budget.used, 0, 'dispose releases it')
  t.end()
})

test('msgpack decoder: a refusal throws SCUTTLEDB_OVERLOADED and keeps nothing of the unfinished frame', (t) => {
  const budget = new BufferBudget(600)
  const other = account(budget)
  other.account.reserve(300)
  const { account: acc, refusals } = account(budget)
  const decoder = codecs.msgpack.decoder(900, acc)
  const big = frame('x'.repeat(800))
  decoder.write(big.subarray(0, 200), () => {})
  let code: string | undefined
  try {
    decoder.write(big.subarray(200, 500), () => {})
  } catch (err) {
    code = (err as ScuttledbError).code
  }
  t.equal(code, codes.OVERLOADED, 'the write that would go over the budget throws')
  t.deepEqual(refusals, [codes.OVERLOADED], 'the account was refused')
  t.equal(budget.used, 300, 'only the other account\'s bytes are held')
  t.doesNotThrow(() => { decoder.end() }, 'the decoder keeps no partial frame (end() sees none)')
  t.end()
})

test('JSON decoder: a partial line is reserved, released at its newline, and a line over maxFrameBytes is refused before it is kept', (t) => {
  const budget = new BufferBudget(1000)
  const { account: acc } = account(budget)
  const decoder = codecs.json.decoder(100, acc)
  const values: unknown[] = []
  const onValue = (value: unknown): void => { values.push(value) }
  decoder.write(Buffer.from('{"a":1}\n{"b":'), onValue)
  t.equal(budget.used, 5, 'the partial line is held')
  decoder.write(Buffer.from('22'), onValue)
  t.equal(budget.used, 7, 'and grows')
  decoder.write(Buffer.from('}\n'), onValue)
  t.deepEqual(values, [{ a: 1 }, { b: 22 }], 'both lines decoded')
  t.equal(budget.used, 0, 'nothing is held after a newline')
  decoder.write(Buffer.from('"' + 'y'.repeat(90)), onValue)
  t.equal(codeOf(() => { decoder.write(Buffer.from('y'.repeat(20)), onValue) }), codes.FRAME_TOO_LARGE, 'a line over the limit is refused')
  decoder.dispose()
  t.equal(budget.used, 0, 'dispose releases what was held')
  t.end()
})

test('createStream({ bufferAccount }): a BufferAccount is taken, anything else is a TypeError; the stream gives back what it held when destroyed', async (t) => {
  const model = await memoryModel(t)
  t.throws(() => model.createStream({ bufferAccount: 5 as unknown as BufferAccount }), TypeError, 'a number is refused')
  t.throws(() => model.createStream({ bufferAccount: {} as unknown as BufferAccount }), TypeError, 'so is an object without reserve() and release()')
  const budget = new BufferBudget(1000)
  const stream = model.createStream({ bufferAccount: account(budget).account })
  stream.on('error', () => {})
  stream.write(frame('z'.repeat(600)).subarray(0, 300))
  t.equal(budget.used, 300, 'the stream\'s decoder holds a partial frame in the account')
  stream.destroy()
  await once(stream, 'close')
  t.equal(budget.used, 0, 'destroying the stream released it')
})
