// The many-node simulation (bench/scale-sim.ts) in a small seeded version: real
// Models on memory-level, real streams over links with delay and loss, and a
// partition. `npm run sim:scale` runs 100, 300 and 1,000 nodes (docs/scale.md).
import test from 'tape'
import { simulate } from '../bench/scale-sim.js'
import { simulateLive } from '../bench/scale-live.js'

const SEED = Number(process.env.SIM_SEED ?? Date.now() % 100_000)

test('gossip with a bounded fan-out reaches every node of a lossy network in a few rounds', async (t) => {
  t.comment(`seed ${SEED} (SIM_SEED=${SEED} to replay)`)
  const nodes = 30
  const r = await simulate({ nodes, seed: SEED, loss: 0.1, delayMs: 1, maxRounds: 30 })
  t.ok(r.rounds <= 30, `every node has the update, after ${r.rounds} rounds (${r.infected.join(' ')})`)
  t.ok(r.rounds <= 3 * Math.ceil(Math.log2(nodes)), 'within 3 log2(N) rounds')
  t.ok(r.infected.every((c, i) => i === 0 || c >= r.infected[i - 1]), 'no node loses it')
  t.ok(r.messagesPerNode > 0 && r.bytesPerNode > 0, `messages (${r.messagesPerNode.toFixed(1)}) and bytes (${Math.round(r.bytesPerNode)}) per node are counted`)
})

test('a partition holds the update on one side until it heals, then every node gets it', async (t) => {
  t.comment(`seed ${SEED} (SIM_SEED=${SEED} to replay)`)
  const nodes = 30
  const r = await simulate({ nodes, seed: SEED, partition: { from: 0, to: 4 }, delayMs: 0.5, maxRounds: 30 })
  t.ok(r.infected.slice(0, 4).every((c) => c <= nodes / 2), `at most the writer's half has it while partitioned (${r.infected.join(' ')})`)
  t.ok(r.rounds > 4 && r.rounds <= 30, `every node has it after the partition heals (round ${r.rounds})`)
})

test('with every source in every clock, each handshake carries them: bytes per node grow with the writers', async (t) => {
  t.comment(`seed ${SEED} (SIM_SEED=${SEED} to replay)`)
  const one = await simulate({ nodes: 16, seed: SEED, loss: 0, delayMs: 0 })
  const all = await simulate({ nodes: 16, seed: SEED, loss: 0, delayMs: 0, writers: 16 })
  t.ok(all.rounds <= 30, `the update still reaches every node (round ${all.rounds})`)
  t.ok(all.bytesPerNode > 2 * one.bytesPerNode, `bytes per node: ${Math.round(one.bytesPerNode)} with one source, ${Math.round(all.bytesPerNode)} with 16`)
})

test('over live connections an update reaches every node, each connection carrying it at most once each way', async (t) => {
  t.comment(`seed ${SEED} (SIM_SEED=${SEED} to replay)`)
  const r = await simulateLive({ nodes: 30, seed: SEED, delayMs: 2 })
  t.equal(r.reached, 30, `every node has it (${r.eccentricity} hops from the writer to the farthest)`)
  t.ok(r.messagesPerNode <= 2 * r.links / r.nodes, `${r.messagesPerNode.toFixed(1)} messages per node, at most 2 x ${r.links} links / ${r.nodes} nodes`)
})
