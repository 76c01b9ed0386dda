// A large network in one process: real Model instances on memory-level, real
// replication streams piped over simulated links (delay, loss, partitions), and
// seeded random peer selection with a bounded fan-out per round. One node
// writes one update; the figures are the rounds until every node has it, and
// the messages (frames) and bytes each node sent. `npm run sim:scale` runs 30,
// 100, 300 and 1,000 nodes (SIM_SIZES, SIM_SEEDS, SIM_WRITERS) and writes
// docs/scale.svg; test/scale-sim.test.ts runs a small seeded version. Not a
// timed benchmark: the figures are counts, and nothing depends on speed.
import { pipeline, Transform, type TransformCallback } from 'node:stream'
import { writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { MemoryLevel } from 'memory-level'
import { Model } from '../lib/model.js'
import { seededRandom } from '../lib/conformance.js'
import { simulateLive } from './scale-live.js'
import { renderScaleSvg } from './scale-svg.js'

/** What to simulate. */
export interface ScaleOptions {
  nodes: number
  /** Sessions each node starts per round (bounded fan-out). Default 2. */
  fanout?: number
  /** Each node's view: this many peers drawn at random at the start, what it picks from (like `--max-peers`). Default 8. */
  view?: number
  /** Largest delay per chunk on a link, ms (each chunk waits a random 0..delay, order kept). Default 2. */
  delayMs?: number
  /** Probability that a session's link is cut after a random number of chunks. Default 0.05. */
  loss?: number
  /** Rounds [from, to) during which the network is split in two halves: sessions across are refused. */
  partition?: { from: number, to: number }
  seed: number
  /** Give up after this many rounds. Default 60. */
  maxRounds?: number
  /**
   * Before the measured update, this many nodes write one key each and gossip
   * runs (unmeasured) until everyone has them: every handshake then carries a
   * vector clock of that many sources, as in a network where they all write. Default 0.
   */
  writers?: number
}

/** What a run measured. */
export interface ScaleResult {
  nodes: number
  fanout: number
  view: number
  writers: number
  seed: number
  /** Rounds until every node held the update (maxRounds + 1 when it never happened). */
  rounds: number
  /** Nodes holding the update after each round (index 0: after round 1). */
  infected: number[]
  sessions: number
  /** Sessions refused (partition) or cut (loss). */
  failed: number
  messagesPerNode: number
  bytesPerNode: number
}

/** One direction of a link: counts bytes and frames, delays chunks in order, and may cut the link. */
export class Wire extends Transform {
  bytes = 0
  frames = 0
  #partial = 0
  #header: number[] = []
  readonly #delay: () => number
  #cutAfter: number

  constructor (delay: () => number, cutAfter: number) {
    super()
    this.#delay = delay
    this.#cutAfter = cutAfter
  }

  override _transform (chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    if (this.#cutAfter-- === 0) {
      callback(new Error('link lost'))
      return
    }
    this.bytes += chunk.length
    this.#count(chunk)
    const ms = this.#delay()
    if (ms <= 0) {
      callback(null, chunk)
      return
    }
    setTimeout(() => { callback(null, chunk) }, ms)
  }

  /** Frames are a 4-byte big-endian length, then the body. */
  #count (chunk: Buffer): void {
    let i = 0
    while (i < chunk.length) {
      if (this.#partial > 0) {
        const take = Math.min(this.#partial, chunk.length - i)
        this.#partial -= take
        i += take
        continue
      }
      this.#header.push(chunk[i++])
      if (this.#header.length === 4) {
        this.#partial = Buffer.from(this.#header).readUInt32BE(0)
        this.#header = []
        this.frames++
      }
    }
  }
}

/** Run one simulation. */
export async function simulate (options: ScaleOptions): Promise<ScaleResult> {
  const { nodes: n, seed, fanout = 2, view = 8, delayMs = 2, loss = 0.05, partition, maxRounds = 60, writers = 0 } = options
  if (!(Number.isInteger(n) && n >= 2)) throw new TypeError('nodes must be an integer >= 2')
  // Choices (views, peers, cuts) are drawn in a fixed order; link delays, drawn as I/O happens, from their own stream.
  const random = seededRandom(seed)
  const jitter = seededRandom(seed + 0x5eed)
  const pick = (k: number): number => Math.floor(random() * k)
  const dbs = Array.from({ length: n }, () => new MemoryLevel<string, Buffer>())
  const models = dbs.map((db, i) => new Model({ db, id: `n${i}` }))
  await Promise.all(models.map(async (m) => { await m.open() }))
  // Each node's view: `view` distinct others at random (a random graph of bounded out-degree).
  const views = models.map((_, i) => {
    const chosen = new Set<number>()
    while (chosen.size < Math.min(view, n - 1)) {
      const j = pick(n)
      if (j !== i) chosen.add(j)
    }
    return [...chosen]
  })
  const sent = new Float64Array(n)
  const frames = new Float64Array(n)
  let sessions = 0
  let failed = 0
  let news = Infinity
  const has = (i: number): boolean => (models[i].clock.n0 ?? -1) >= news
  const side = (i: number): number => (i < n / 2 ? 0 : 1)

  const session = async (i: number, j: number, round: number): Promise<void> => {
    sessions++
    if (partition !== undefined && round >= partition.from && round < partition.to && side(i) !== side(j)) {
      failed++
      return
    }
    const a = models[i].createStream({ tail: false })
    const b = models[j].createStream({ tail: false })
    const cut = random() < loss ? pick(6) : -1
    const delay = (): number => jitter() * delayMs
    const ab = new Wire(delay, cut)
    const ba = new Wire(delay, -1)
    await new Promise<void>((resolve) => {
      pipeline(a, ab, b, ba, a, (err) => {
        if (err !== undefined && err !== null) failed++
        resolve()
      })
    })
    sent[i] += ab.bytes
    sent[j] += ba.bytes
    frames[i] += ab.frames
    frames[j] += ba.frames
  }

  /** Gossip rounds until `done` counts every node; the counts after each round. */
  const gossip = async (count: () => number, withPartition: boolean): Promise<{ rounds: number, infected: number[] }> => {
    const infected: number[] = []
    for (let round = 0; round < maxRounds; round++) {
      const work: Array<Promise<void>> = []
      for (let i = 0; i < n; i++) {
        const choices = [...views[i]]
        for (let k = 0; k < Math.min(fanout, choices.length); k++) {
          const j = choices.splice(pick(choices.length), 1)[0]
          work.push(session(i, j, withPartition ? round : -1))
        }
      }
      await Promise.all(work)
      const c = count()
      infected.push(c)
      if (c === n) return { rounds: round + 1, infected }
    }
    return { rounds: maxRounds + 1, infected }
  }

  try {
    if (writers > 0) {
      await Promise.all(models.slice(0, writers).map(async (m, w) => { await m.set(`w${w}`, w) }))
      const all = (): number => models.filter((m) => Object.keys(m.clock).length >= writers).length
      const warm = await gossip(all, false)
      if (warm.rounds > maxRounds) throw new Error(`warm-up did not converge in ${maxRounds} rounds`)
      sent.fill(0)
      frames.fill(0)
      sessions = failed = 0
    }
    await models[0].set('news', 'hello')
    news = models[0].clock.n0
    const { rounds, infected } = await gossip(() => models.filter((_, i) => has(i)).length, true)
    const sum = (xs: Float64Array): number => xs.reduce((s, x) => s + x, 0)
    return { nodes: n, fanout, view, writers, seed, rounds, infected, sessions, failed, messagesPerNode: sum(frames) / n, bytesPerNode: sum(sent) / n }
  } finally {
    await Promise.all(models.map(async (m) => { await m.close() }))
    await Promise.all(dbs.map(async (db) => { await db.close() }))
  }
}

/** `npm run sim:scale`: 30, 100, 300 and 1,000 nodes, a table on stdout and docs/scale.svg. */
async function main (): Promise<void> {
  const sizes = (process.env.SIM_SIZES ?? '30,100,300,1000').split(',').map(Number)
  const seeds = Number(process.env.SIM_SEEDS ?? 3)
  const writers = Number(process.env.SIM_WRITERS ?? 100)
  const rows: ScaleResult[][] = []
  const row = (runs: ScaleResult[]): string => {
    const mean = (f: (r: ScaleResult) => number): number => runs.reduce((x, r) => x + f(r), 0) / runs.length
    return `| ${runs[0].nodes} | ${Math.max(1, runs[0].writers)} | ${runs[0].fanout} / ${runs[0].view} | ${runs.map((r) => r.rounds).join(', ')} | ${mean((r) => r.messagesPerNode).toFixed(1)} | ${Math.round(mean((r) => r.bytesPerNode)).toLocaleString('en-US')} | ${(100 * mean((r) => r.failed / r.sessions)).toFixed(1)}% |`
  }
  console.log('| nodes | sources in every clock | fan-out / view | rounds (per seed) | messages per node | bytes per node | sessions cut |')
  console.log('|---|---|---|---|---|---|---|')
  for (const nodes of sizes) {
    const runs: ScaleResult[] = []
    for (let s = 1; s <= seeds; s++) runs.push(await simulate({ nodes, seed: nodes * 1000 + s }))
    rows.push(runs)
    console.log(row(runs))
  }
  for (const nodes of sizes) {
    if (writers > 0 && writers <= nodes) console.log(row([await simulate({ nodes, seed: nodes * 1000 + 99, writers })]))
  }
  console.log('\nlive connections (every node to its view of 8, as serve keeps them; one update):\n')
  console.log('| nodes | links | hops from the writer to the farthest node | messages per node | bytes per node |')
  console.log('|---|---|---|---|---|')
  for (const nodes of sizes) {
    const r = await simulateLive({ nodes, seed: nodes * 1000 + 1 })
    console.log(`| ${nodes} | ${r.links} | ${r.eccentricity} | ${r.messagesPerNode.toFixed(1)} | ${Math.round(r.bytesPerNode)} |${r.reached < nodes ? ` reached ${r.reached} only` : ''}`)
  }
  const mid = sizes[Math.min(1, sizes.length - 1)]
  const partitioned = await simulate({ nodes: mid, seed: 42, partition: { from: 0, to: 6 } })
  console.log(`\npartitioned in two halves for rounds 1-6 (${mid} nodes, seed 42): every node by round ${partitioned.rounds}; nodes holding the update after each round: ${partitioned.infected.join(' ')}`)
  const out = fileURLToPath(new URL('../../docs/scale.svg', import.meta.url))
  await writeFile(out, renderScaleSvg(rows.map((runs) => ({ nodes: runs[0].nodes, rounds: runs.map((r) => r.rounds), messagesPerNode: runs.reduce((x, r) => x + r.messagesPerNode, 0) / runs.length }))))
  console.log(`\nwrote ${out}`)
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    console.error(err)
    process.exitCode = 1
  })
}
