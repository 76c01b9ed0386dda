import { isDeepStrictEqual } from 'node:util'
import test, { type Test } from 'tape'
import { MemoryLevel } from 'memory-level'
import { Model } from '../lib/index.js'
import { allHistory, link, tiedIds, until } from './helpers.js'
import { Sim } from './sim.js'

// Replay one run with SEED=<n> (printed in every assertion); SIM_RUNS=<n> adds n fresh random seeds.
const replay = process.env.SEED !== undefined ? Number(process.env.SEED) : undefined
const extra = Number(process.env.SIM_RUNS ?? 0)
// SIM_STEPS=<n> makes every run longer (memory-level; the classic-level run takes half).
const steps = Number(process.env.SIM_STEPS ?? 600)
const fixedSeeds = [1, 2, 3, 4, 5, 6, 7, 42, 1337, 9001, 20240601, 314159]
const seeds = replay !== undefined
  ? [replay]
  : [...fixedSeeds, ...Array.from({ length: extra }, () => Math.floor(Math.random() * 2 ** 31))]

async function converges (t: Test, seed: number, disk: boolean, steps: number): Promise<void> {
  const peers = 3 + (seed % 3)
  const sim = await Sim.create(t, { seed, peers, disk })
  const where = `seed=${seed} peers=${peers} ${disk ? 'classic-level' : 'memory-level'} (replay: SEED=${seed})`
  t.comment(where)
  await sim.run(steps)
  const settled = await sim.settle()
  t.ok(settled, `the network goes quiet after the final line sync, ${where}`)
  t.deepEqual(sim.writeErrors.map((err) => String(err)), [], `every write succeeds, ${where}`)
  t.deepEqual(sim.rejections, [], `no update is rejected, ${where}`)
  const states = await Promise.all(sim.peers.map(async (_, i) => await sim.state(i)))
  const ids = sim.peers.map((p) => p.id)
  let same = true
  for (let i = 1; i < states.length; i++) {
    const pair = `${ids[0]} vs ${ids[i]}, ${where}`
    t.deepEqual(states[i].json, states[0].json, `toJSON() converges: ${pair}`)
    t.deepEqual(states[i].history, states[0].history, `history converges: ${pair}`)
    t.deepEqual(states[i].clock, states[0].clock, `clock converges: ${pair}`)
    same &&= isDeepStrictEqual(states[i], states[0])
  }
  // Weaker than equal clocks, and what last-writer-wins needs: no held update is above its source's clock.
  const uncovered = states.flatMap((s, i) => (s.history as Array<[unknown, number, string]>)
    .filter(([, ts, source]) => !(s.clock[source] >= ts)).map((u) => [ids[i], u]))
  t.deepEqual(uncovered, [], `every peer's clock covers every update it holds, ${where}`)
  t.ok(Object.keys(states[0].json).length > 0 || states[0].history.length > 0, `the run wrote something, ${where}`)
  if (!same) t.comment(`FAILED ${where}; last operations:\n# ${sim.trace.slice(-40).join('\n# ')}`)
}

for (const seed of seeds) {
  test(`random writes, partitions and restarts converge on memory-level (seed ${seed})`, async (t) => {
    await converges(t, seed, false, steps)
  })
}

test(`random writes, partitions and restarts converge on classic-level (seed ${seeds[0]})`, async (t) => {
  await converges(t, seeds[0], true, Math.ceil(steps / 2))
})

test('equal timestamps on one key from two sources resolve to the greater source id in any arrival order', async (t) => {
  const wall = 1_700_000_000_000
  const now = (): number => wall
  const open = async (id: string): Promise<Model> => {
    const db = new MemoryLevel()
    const model = new Model({ db, id, now })
    await model.open()
    t.teardown(async () => { await model.close(); await db.close() })
    return model
  }
  // Ids whose clocks start a millisecond at the same place, so the two writes tie.
  const [lowId, highId] = tiedIds(2)
  const low = await open(lowId)
  const high = await open(highId)
  const [fromLow, fromHigh] = await Promise.all([low.localUpdate(['k', 'from A']), high.localUpdate(['k', 'from B'])])
  t.equal(fromLow[1], fromHigh[1], 'both writes carry the same timestamp')

  // Two fresh replicas receive the two writes in opposite orders.
  const lowFirst = await open('C')
  const highFirst = await open('D')
  const order: Array<[Model, Model, Model]> = [[lowFirst, low, high], [highFirst, high, low]]
  for (const [replica, first, second] of order) {
    const l1 = link(replica, first)
    await l1.synced
    t.equal(await replica.get('k'), await first.get('k'), `${replica.id} first takes ${first.id}'s value`)
    // One link at a time, so the replica cannot pass the second write back to the first writer.
    l1.a.destroy()
    await l1.closed
    const l2 = link(replica, second)
    await l2.synced
    l2.a.destroy()
    await l2.closed
  }
  // And the two writers exchange their writes directly.
  const direct = link(low, high)
  await direct.synced
  t.ok(await until(() => low.stats.old + low.stats.committed >= 2), 'the writer with the smaller id has taken B\'s write')

  // A's write lost, but it is A's latest: every replica keeps it (pinned) so A's clock entry is fetchable.
  const expected = [[['k', 'from A'], fromLow[1], lowId], [['k', 'from B'], fromHigh[1], highId]]
  for (const model of [low, high, lowFirst, highFirst]) {
    t.equal(await model.get('k'), 'from B', `${model.id} holds the value of the greater source id`)
    t.deepEqual(await allHistory(model), expected, `${model.id} keeps the winning update and the loser's latest, nothing else`)
  }
  t.deepEqual(lowFirst.clock, highFirst.clock, 'both arrival orders end with the same clock')
  direct.a.destroy()
  await direct.closed
})
