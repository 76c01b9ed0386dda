import test from 'tape'
import { MemoryLevel } from 'memory-level'
import { Model, type Transaction, type Update } from '../lib/index.js'
import { allHistory, link } from './helpers.js'

// dfb8fdc: when a data type's _applyUpdate throws on a peer's update, that update fails
// "with the rest of its stream's queued updates, which would move the clock past it"
// (#isolate). That holds only when the culprit shares its batch with another update:
// alone in its batch (maxBatch 1 here; also the pipelined batch behind a commit), the
// older path fails the batch alone and the stream's updates queued behind it commit,
// moving the clock past the update that was never stored, so it is never asked again.
class Fragile extends Model {
  protected override _applyUpdate (update: Update, tx: Transaction): boolean | Promise<boolean> {
    if ((update[0] as unknown[])[1] === 'boom') throw new Error('boom cannot be applied')
    return super._applyUpdate(update, tx)
  }
}

test('an update the data type cannot apply, alone in its batch: the clock does not pass it', async (t) => {
  const a = new Fragile({ db: new MemoryLevel(), maxBatch: 1 })
  const bad = new Model({ db: new MemoryLevel() })
  await a.open()
  await bad.open()
  t.teardown(async () => { await a.close(); await bad.close() })
  for (let i = 0; i < 10; i++) await bad.set(`b${i}`, i === 5 ? 'boom' : i)

  const l = link(a, bad)
  l.synced.catch(() => {})
  const closed = await l.closed
  // A local write queued behind everything the stream brought: once it commits, they have settled.
  await a.set('after', true)
  const clock = { ...a.clock }
  t.equal((closed as { code?: string } | null)?.code, 'SCUTTLEDB_INVALID_MESSAGE', 'the stream closes with SCUTTLEDB_INVALID_MESSAGE')
  t.equal(await a.get('b5'), undefined, 'the update that cannot be applied is not stored')
  const bts = (await allHistory(bad) as Update[]).find((u) => (u[0] as unknown[])[0] === 'b5')?.[1]
  t.ok(typeof bts === 'number', 'b5 stamp known')
  t.ok(clock[bad.id] === undefined || clock[bad.id] < (bts as number), `nor does the clock pass it (clock ${String(clock[bad.id])}, b5 at ${String(bts)})`)
  t.equal(await a.get('b9'), undefined, 'nor is a later update of that stream stored')
})

// The same older path also failed every item of the batch, including those already
// settled (an echo another peer sent, dropped as old; an update refused as too far
// ahead): those peers' streams were told a second time, with the data type's error
// about another peer's update, and closed for it.
test('an update the data type cannot apply, the only one accepted in its batch: the updates settled beside it are settled once', async (t) => {
  const a = new Fragile({ db: new MemoryLevel() })
  const bad = new Model({ db: new MemoryLevel() })
  await a.open()
  await bad.open()
  t.teardown(async () => { await a.close(); await bad.close() })
  await a.set('mine', 1)
  const [echo] = await allHistory(a) as Update[]
  await bad.set('k', 'boom')
  const [boom] = await allHistory(bad) as Update[]
  const ahead: Update = [['x', 1], Date.now() + 3_600_000, 'SOMEONE']
  const echoed: Array<string | null> = []
  const early: Array<string | null> = []
  const refused: Array<string | null> = []
  const codeOf = (err: Error | null): string | null => err === null ? null : (err as { code?: string }).code ?? err.message
  // One tick: all three join one commit batch (group commit); only the last is accepted.
  a._receive(echo, undefined, {}, (err) => { echoed.push(codeOf(err)) })
  a._receive(ahead, undefined, {}, (err, _update, rejected) => { early.push(codeOf(err) ?? `rejected ${String(rejected?.code)}`) })
  await new Promise<void>((resolve) => {
    a._receive(boom, undefined, {}, (err) => { refused.push(codeOf(err)); resolve() })
  })
  await a.set('after', true)
  t.deepEqual(echoed, [null], 'the echo is settled once, as old')
  t.deepEqual(early, ['rejected SCUTTLEDB_CLOCK_SKEW'], 'the update too far ahead is settled once, as refused for skew')
  t.deepEqual(refused, ['SCUTTLEDB_INVALID_MESSAGE'], 'the update that cannot be applied is settled once, with SCUTTLEDB_INVALID_MESSAGE')
})
